/**
 * Chat's sampling settings (specs/ui.md, "Chat"): the fields with llama.cpp's defaults and the
 * rule each value must follow, read from the view's form into the engine's generation settings
 * and what a conversation keeps of them.
 */
import type { ChatSettings } from '../../../../shared/ipc/channels/conversations';
import type { GenerationSettings } from '../../engine/protocol';

export interface Field {
  key: Exclude<keyof GenerationSettings, 'seed'>;
  label: string;
  hint: string;
  min: number;
  max?: number;
  step: string;
  value: string;
  /** Whether a value is allowed, and the rule to show when it is not. */
  check: (x: number) => boolean;
  rule: string;
  integer?: boolean;
}

/** llama.cpp's defaults, as `pxi run` uses them; the upper bounds are what a conversation keeps. */
export const FIELDS: Field[] = [
  { key: 'temperature', label: 'Temperature', hint: '0 = greedy', min: 0, step: '0.05', value: '0.8', check: (x) => x >= 0 && x <= 1000, rule: 'a number from 0 to 1000' },
  { key: 'topK', label: 'Top-k', hint: '0 = all', min: 0, step: '1', value: '40', check: (x) => x >= 0 && x <= 1_000_000, rule: 'an integer from 0 to 1000000', integer: true },
  { key: 'topP', label: 'Top-p', hint: '1 = off', min: 0, max: 1, step: '0.01', value: '0.95', check: (x) => x > 0 && x <= 1, rule: 'in (0, 1]' },
  { key: 'minP', label: 'Min-p', hint: '0 = off', min: 0, max: 1, step: '0.01', value: '0.05', check: (x) => x >= 0 && x <= 1, rule: 'in [0, 1]' },
  { key: 'repeatPenalty', label: 'Repeat penalty', hint: '1 = off', min: 0, step: '0.05', value: '1', check: (x) => x > 0 && x <= 1000, rule: 'a number > 0, at most 1000' },
  { key: 'maxTokens', label: 'Max tokens', hint: 'per reply', min: 1, step: '1', value: '256', check: (x) => x >= 1 && x <= 10_000_000, rule: 'an integer from 1 to 10000000', integer: true },
];

/** Settings from the form, or the first invalid field with the rule it breaks. */
export function readSettings(form: HTMLElement, contextLength: number | null): { settings: GenerationSettings; seed: number; kept: ChatSettings } | { field: HTMLInputElement; message: string } {
  const out: Partial<GenerationSettings> = {};
  for (const f of FIELDS) {
    const input = form.querySelector<HTMLInputElement>(`#chat-${f.key}`)!;
    const x = Number(input.value);
    if (input.value.trim() === '' || !Number.isFinite(x) || !f.check(x) || (f.integer && !Number.isInteger(x))) {
      return { field: input, message: `${f.label} must be ${f.rule}, got ${JSON.stringify(input.value)}` };
    }
    out[f.key] = x;
  }
  const seedInput = form.querySelector<HTMLInputElement>('#chat-seed')!;
  const text = seedInput.value.trim();
  let seed: number;
  let keptSeed: number | null = null;
  if (text === '') seed = Math.floor(Math.random() * 0x100000000);
  else {
    seed = Number(text);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) return { field: seedInput, message: `Seed must be an integer from 0 to 4294967295 (or empty for a random one), got ${JSON.stringify(text)}` };
    keptSeed = seed;
  }
  const base = out as Omit<GenerationSettings, 'seed'>;
  return { settings: { ...base, seed }, seed, kept: { ...base, seed: keptSeed, contextLength } };
}
