import { expect, test, type Page } from '@playwright/test';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixturePath, projectRoot } from '../support/fixtures';
import { serveDataDir, type ServeProcess } from './serve-fixture';

/**
 * What holds in every view, in Chromium against browser mode (`pxi serve` on a volume holding
 * stories260K): each view names the page ("Chat — Pixel-LLM"); the first Tab reaches "Skip to
 * content", which focuses the view's main region without changing the route; every link and
 * button whose accessible name is set apart from its text (aria-label) still contains the text
 * shown; under the system's light preference the app draws light surfaces with dark text.
 */

const VIEWS: [id: string, title: string][] = [
  ['models', 'Models'],
  ['import', 'Import'],
  ['explorer', 'Explorer'],
  ['chat', 'Chat'],
  ['training', 'Training'],
  ['tasks', 'Tasks'],
  ['kernels', 'Kernels'],
  ['dashboard', 'Dashboard'],
];
const SIZES = [
  { width: 1280, height: 720 },
  { width: 1920, height: 1080 },
];

let dataDir = '';
let serve: ServeProcess | null = null;

test.beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'pxi-e2e-everywhere-'));
  // The import runs before serve: one process owns a volume at a time.
  const r = spawnSync(process.execPath, ['bin/pxi.js', 'import', fixturePath('models', 'stories260K.gguf'), '--volume', join(dataDir, 'volume'), '--tile-size', '64', '--skip-pyramid'], {
    cwd: projectRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(r.status, r.stderr).toBe(0);
  serve = await serveDataDir(dataDir);
});

test.afterAll(async () => {
  await serve?.stop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

async function open(page: Page, view = 'models'): Promise<void> {
  await page.goto(`${serve!.url}#/${view}`);
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true', { timeout: 30_000 });
  await expect(page.locator('#view')).toHaveAttribute('data-view', view);
}

test('every view names the page, and the name follows navigation', async ({ page }) => {
  await open(page);
  for (const [id, title] of VIEWS) {
    await page.locator(`nav a[data-view="${id}"]`).click();
    await expect(page.locator('#view')).toHaveAttribute('data-view', id);
    await expect(page).toHaveTitle(`${title} — Pixel-LLM`);
  }
  // Back in history restores the earlier view's title too.
  await page.goBack();
  await expect(page).toHaveTitle('Kernels — Pixel-LLM');
});

test('the skip link is the first focusable element and focuses the main region without changing the view', async ({ page }) => {
  for (const size of SIZES) {
    await page.setViewportSize(size);
    await open(page, 'chat');
    const skip = page.locator('#skip-link');
    await expect(skip).not.toBeInViewport();
    // It comes first in the tab order: no focusable element before it in the document.
    const first = await page.evaluate(() => {
      const all = [...document.querySelectorAll<HTMLElement>('a[href], button, input, select, textarea, summary, [tabindex]')].filter((e) => e.tabIndex >= 0);
      return all[0]?.id;
    });
    expect(first).toBe('skip-link');
    // From the top of the page (the view may have focused its own first field), Tab reaches it first.
    // (Focusing the body puts the start of sequential navigation at the top of the page.)
    await page.evaluate(() => {
      document.body.tabIndex = -1;
      document.body.focus();
      document.body.removeAttribute('tabindex');
    });
    await page.keyboard.press('Tab');
    await expect(skip).toBeFocused();
    await expect(skip).toHaveText('Skip to content');
    await expect(skip).toBeInViewport();
    await page.screenshot({ path: test.info().outputPath(`skip-link-${size.width}x${size.height}.png`) });
    await page.keyboard.press('Enter');
    await expect(page.locator('main#view')).toBeFocused();
    await expect(page.locator('#view')).toHaveAttribute('data-view', 'chat');
    expect(new URL(page.url()).hash).toBe('#/chat');
    // The next Tab goes on from the main region, into the view, not back to the navigation.
    await page.keyboard.press('Tab');
    const inView = await page.evaluate(() => document.getElementById('view')!.contains(document.activeElement));
    expect(inView).toBe(true);
  }
});

test('links and buttons with an aria-label keep their visible text in their accessible name', async ({ page }) => {
  await page.setViewportSize(SIZES[0]!);
  const misses: string[] = [];
  let checked = 0;
  for (const [id] of VIEWS) {
    await open(page, id);
    // Let the view finish drawing its lists (Models' rows, the Chat's model picker) first.
    if (id === 'models') await expect(page.locator('.model-name', { hasText: 'stories260K' })).toBeVisible();
    if (id === 'chat') await expect(page.locator('#chat-model option', { hasText: 'stories260K' })).toHaveCount(1);
    const found = await page.evaluate(() => {
      const out: { name: string; text: string }[] = [];
      for (const e of document.querySelectorAll<HTMLElement>('a, button, [role="button"], [role="tab"], [role="link"], summary')) {
        const name = e.getAttribute('aria-label');
        const text = (e.innerText ?? '').replace(/\s+/g, ' ').trim();
        // A symbol alone ("+", "−", "×") is no text to speak; its name says what it does.
        if (name === null || !/[\p{L}\p{N}]/u.test(text) || e.offsetParent === null) continue;
        out.push({ name, text });
      }
      return out;
    });
    for (const f of found) {
      checked++;
      if (!f.name.toLowerCase().includes(f.text.toLowerCase())) misses.push(`${id}: "${f.text}" is named "${f.name}"`);
    }
  }
  expect(misses).toEqual([]);
  test.info().annotations.push({ type: 'checked', description: `${checked} labelled controls` });
});

test('the light theme follows the system preference with readable contrast', async ({ page }) => {
  const colours = () =>
    page.evaluate(() => {
      const body = getComputedStyle(document.body);
      const nav = getComputedStyle(document.querySelector('.nav')!);
      return { bg: body.backgroundColor, text: body.color, nav: nav.backgroundColor, scheme: getComputedStyle(document.documentElement).colorScheme };
    });
  const lum = (rgb: string) => {
    const [r, g, b] = rgb.match(/\d+/g)!.slice(0, 3).map((v) => Number(v) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4)) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a: string, b: string) => {
    const [hi, lo] = [lum(a), lum(b)].sort((x, y) => y - x) as [number, number];
    return (hi + 0.05) / (lo + 0.05);
  };

  await page.emulateMedia({ colorScheme: 'dark' });
  await open(page, 'chat');
  const dark = await colours();
  expect(lum(dark.bg)).toBeLessThan(0.05);

  await page.emulateMedia({ colorScheme: 'light' });
  // The theme follows the preference live, without a reload.
  await expect.poll(async () => lum((await colours()).bg)).toBeGreaterThan(0.8);
  const light = await colours();
  expect(light.scheme).toBe('light');
  expect(ratio(light.text, light.bg)).toBeGreaterThanOrEqual(7);
  expect(ratio(light.text, light.nav)).toBeGreaterThanOrEqual(7);
  for (const [id] of VIEWS.filter(([v]) => ['models', 'chat', 'kernels', 'dashboard'].includes(v))) {
    for (const size of SIZES) {
      await page.setViewportSize(size);
      await open(page, id);
      if (id === 'models') await expect(page.locator('.model-name', { hasText: 'stories260K' })).toBeVisible();
      const c = await colours();
      expect(lum(c.bg)).toBeGreaterThan(0.8);
      await page.screenshot({ path: test.info().outputPath(`light-${id}-${size.width}x${size.height}.png`) });
    }
  }
});
