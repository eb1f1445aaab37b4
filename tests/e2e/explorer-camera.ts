/**
 * The Explorer's camera as the view exposes it for tests (data-zoom, data-cx, … on `.explorer`),
 * and a wait for it to settle: shared by the explorer specs that aim at map points.
 */
import { expect, type Page } from '@playwright/test';

export interface Cam {
  zoom: number;
  cx: number;
  cy: number;
  width: number;
  height: number;
}

export async function cam(page: Page): Promise<Cam> {
  const d = await page.locator('.explorer').evaluate((e: HTMLElement) => ({ ...e.dataset }));
  return { zoom: Number(d.zoom), cx: Number(d.cx), cy: Number(d.cy), width: Number(d.width), height: Number(d.height) };
}

/** Waits until the camera stops and everything the view asked for (heat, values) is in. */
export async function settled(page: Page): Promise<Cam> {
  const ex = page.locator('.explorer');
  await expect
    .poll(async () => `${await ex.getAttribute('data-animating')} ${await ex.getAttribute('data-loading')}`, { timeout: 20_000, intervals: [100] })
    .toBe('false false');
  return cam(page);
}
