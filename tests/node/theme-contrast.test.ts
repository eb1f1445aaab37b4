/**
 * The dark and the light theme (renderer/src/styles.css) keep text readable: text, muted text,
 * the accent and the state colours reach WCAG's 4.5:1 on every surface they are drawn on, in
 * both themes. The colours are read from the stylesheet itself, so a changed variable is checked.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../support/fixtures';
import { join } from 'node:path';

const css = readFileSync(join(projectRoot, 'renderer/src/styles.css'), 'utf8');

function vars(block: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of block.matchAll(/--([a-z0-9-]+):\s*(#[0-9a-fA-F]{6})\b/g)) out.set(m[1]!, m[2]!);
  return out;
}

/** The dark theme is every :root block outside the light media query; the light one restates it. */
function themes(): { dark: Map<string, string>; light: Map<string, string> } {
  const at = css.indexOf('@media (prefers-color-scheme: light)');
  expect(at).toBeGreaterThan(0);
  const dark = new Map<string, string>();
  for (const m of css.slice(0, at).matchAll(/:root\s*\{([^}]*)\}/g)) for (const [k, v] of vars(m[1]!)) dark.set(k, v);
  const light = new Map(dark);
  for (const [k, v] of vars(css.slice(at))) light.set(k, v);
  return { dark, light };
}

function luminance(hex: string): number {
  const c = [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16) / 255).map((v) => (v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4));
  return 0.2126 * c[0]! + 0.7152 * c[1]! + 0.0722 * c[2]!;
}

function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number];
  return (hi + 0.05) / (lo + 0.05);
}

const FOREGROUNDS = ['text', 'muted', 'accent', 'ok', 'bad', 'warn'];
const SURFACES = ['bg', 'panel', 'panel-2', 'input', 'hover', 'selected', 'callout-bad-bg', 'callout-warn-bg', 'row-alt', 'user-bubble', 'code'];

describe('theme contrast', () => {
  it('computes the WCAG ratio (black on white is 21:1, a colour on itself 1:1)', () => {
    expect(contrast('#000000', '#ffffff')).toBeCloseTo(21, 5);
    expect(contrast('#777777', '#777777')).toBeCloseTo(1, 5);
  });

  it('the light theme restates every colour variable of the dark one, with light surfaces', () => {
    const { dark, light } = themes();
    const lightOnly = vars(css.slice(css.indexOf('@media (prefers-color-scheme: light)')));
    for (const k of dark.keys()) expect(lightOnly.has(k), `--${k} has no light value`).toBe(true);
    expect(luminance(light.get('bg')!)).toBeGreaterThan(0.8);
    expect(luminance(dark.get('bg')!)).toBeLessThan(0.05);
  });

  for (const theme of ['dark', 'light'] as const) {
    it(`${theme}: text, muted, accent and state colours reach 4.5:1 on every surface`, () => {
      const t = themes()[theme];
      const low: string[] = [];
      for (const f of FOREGROUNDS) {
        for (const s of SURFACES) {
          const r = contrast(t.get(f)!, t.get(s)!);
          if (r < 4.5) low.push(`--${f} on --${s}: ${r.toFixed(2)}`);
        }
      }
      expect(low).toEqual([]);
    });
  }
});
