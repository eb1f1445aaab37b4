/**
 * The fine-tune channels' contract through the dispatcher, with stand-in handlers: train:finetune
 * (defaults, refusals naming the field), a fine-tune run in train:runs beside a training run
 * (what it shows, what it may not), models:adapters, and the fine-tune fields of models:list.
 */
import { describe, expect, it } from 'vitest';
import { MAX_ADAPTERS } from '../../shared/ipc/channels/models';
import type { FinetuneRun } from '../../shared/ipc/channels/train';
import { createDispatcher } from '../../shared/ipc/dispatch';
import { ctx, handlers, refused } from '../support/ipc';
import { parseFinetuneRecipe } from '../../shared/train/finetune-recipe';

const start = { model: 'stories260K', data: { train: ['/data/train.txt'] } };

const finetuneRun = (over: Partial<FinetuneRun> = {}): FinetuneRun => ({
  kind: 'finetune',
  run: 'stories-lora',
  taskId: 4,
  where: 'background',
  state: 'succeeded',
  finetune: parseFinetuneRecipe({ kind: 'finetune', name: 'stories-lora', base: { model: 'abc123', identity: 'sha256:00' }, lora: {}, data: { train: ['/data/train.txt'] }, train: { steps: 6, seqLen: 32 } }),
  base: { modelId: 'abc123', name: 'stories260K' },
  adapter: { name: 'stories-lora', bytes: 70_000 },
  parameters: 34_816,
  step: 6,
  steps: 6,
  latest: { loss: 1.2, lr: 1e-4, gradNorm: 0.3, tokensPerSec: 900, etaSec: null },
  validLoss: 1.3,
  checkpoints: [6],
  modelId: null,
  error: null,
  createdAt: 1,
  updatedAt: 2,
  ...over,
});

describe('train:finetune in the contract', () => {
  it('takes a model and its text, filling the fine-tuning defaults of what it is given', async () => {
    const seen: unknown[] = [];
    const d = createDispatcher(
      handlers({
        'train:finetune': (req) => {
          seen.push(req);
          return { taskId: 9, run: req.run ?? 'stories260K-lora' };
        },
      }),
    );
    expect(await d('train:finetune', start, ctx)).toEqual({ ok: true, value: { taskId: 9, run: 'stories260K-lora' } });
    expect(seen[0]).toEqual({ model: 'stories260K', mode: 'lora', data: { train: ['/data/train.txt'], valid: [] } });
    const full = {
      ...start,
      run: 'mine',
      data: { train: ['my-corpus'], valid: ['/data/valid.txt'] },
      lora: { rank: 4, targets: ['attn_q', 'attn_v'] },
      train: { steps: 6, batch: 2, seqLen: 32, lr: 2e-3, evalEvery: 3, checkpointEvery: 3 },
    };
    expect((await d('train:finetune', full, ctx)).ok).toBe(true);
    // Every setting given is kept; those of its groups left out take the fine-tuning defaults.
    expect(seen[1]).toMatchObject({
      run: 'mine',
      lora: { rank: 4, alpha: 16, targets: ['attn_q', 'attn_v'] },
      train: { steps: 6, batch: 2, seqLen: 32, lr: 2e-3, evalEvery: 3, checkpointEvery: 3, warmup: 10, weightDecay: 0, beta2: 0.999, precision: 'f32' },
    });
    expect((await d('train:finetune', { ...start, mode: 'full' }, ctx)).ok).toBe(true);
    expect(seen[2]).toMatchObject({ mode: 'full' });
  });

  it('refuses bad requests naming the field, before any handler runs', async () => {
    let calls = 0;
    const d = createDispatcher(handlers({ 'train:finetune': () => ({ taskId: ++calls, run: 'x' }) }));
    for (const [payload, msg] of [
      [{ data: start.data }, /model/],
      [{ ...start, model: '' }, /model/],
      [{ ...start, model: 'x'.repeat(257) }, /model/],
      [{ ...start, run: '../x' }, /run: a run name/],
      [{ ...start, run: 'has space' }, /run/],
      [{ ...start, mode: 'qlora' }, /mode/],
      [{ ...start, data: { train: [] } }, /data\.train/],
      [{ ...start, data: { train: [''] } }, /data\.train/],
      [{ ...start, data: { train: Array.from({ length: 65 }, () => 'c') } }, /data\.train/],
      [{ ...start, data: { train: ['/t.txt'], valid: [3] } }, /data\.valid/],
      [{ ...start, lora: { rank: 0 } }, /lora\.rank/],
      [{ ...start, lora: { rank: 2.5 } }, /lora\.rank/],
      [{ ...start, lora: { alpha: -1 } }, /lora\.alpha/],
      [{ ...start, lora: { targets: ['attn_qkv'] } }, /lora\.targets/],
      [{ ...start, lora: { targets: [] } }, /lora\.targets/],
      [{ ...start, train: { steps: 0 } }, /train\.steps/],
      [{ ...start, train: { lr: 2 } }, /train\.lr/],
      [{ ...start, train: { batch: 1.5 } }, /train\.batch/],
      [{ ...start, train: { seqLen: 0 } }, /train\.seqLen/],
      [{ ...start, train: { precision: 'mixed' } }, /train\.precision/],
      [{ ...start, train: { sample: 1 } }, /train|Unrecognized/i],
      [{ ...start, extra: true }, /extra|Unrecognized/i],
    ] as const) {
      await refused(d, 'train:finetune', payload, 'IPC_INVALID_REQUEST', msg);
    }
    expect(calls).toBe(0);
  });
});

describe('fine-tune runs in train:runs', () => {
  it('lists a fine-tune with its settings, base and adapter beside a training run', async () => {
    const training = {
      kind: 'train',
      run: 'tiny',
      taskId: 1,
      state: 'running',
      recipe: { name: 'tiny', model: { dim: 32, layers: 2, heads: 2, ff: 64, context: 64 }, data: { train: ['/data/train.txt'], vocab: 300 }, train: { steps: 60 } },
      parameters: 30000,
      step: 3,
      steps: 60,
      latest: null,
      validLoss: null,
      checkpoints: [],
      modelId: null,
      error: null,
      createdAt: 1,
      updatedAt: 2,
    };
    const d = createDispatcher(handlers({ 'train:runs': () => ({ runs: [finetuneRun(), training as never] }) }));
    const env = await d('train:runs', {}, ctx);
    expect(env.ok, JSON.stringify(env)).toBe(true);
    if (env.ok) {
      const [f, t] = (env.value as { runs: { kind: string }[] }).runs;
      expect(f).toMatchObject({ kind: 'finetune', base: { name: 'stories260K' }, adapter: { name: 'stories-lora' }, finetune: { mode: 'lora', lora: { rank: 8 } } });
      expect(t).toMatchObject({ kind: 'train', where: 'background', recipe: { model: { arch: 'llama' } } });
    }
  });

  it('refuses runs that break the contract: no kind, the other kind’s fields, bad figures, a bad adapter', async () => {
    for (const [bad, msg] of [
      [{ ...finetuneRun(), kind: undefined }, /kind/],
      [{ ...finetuneRun(), kind: 'train' }, /recipe|finetune|Unrecognized/i],
      [{ ...finetuneRun(), recipe: {} }, /recipe|Unrecognized/i],
      [finetuneRun({ validLoss: NaN }), /validLoss/],
      [finetuneRun({ base: { modelId: null } as never }), /base\.name/],
      [finetuneRun({ adapter: { name: '../x', bytes: 1 } }), /adapter\.name/],
      [finetuneRun({ adapter: { name: 'a', bytes: -1 } }), /adapter\.bytes/],
      [finetuneRun({ finetune: { ...finetuneRun().finetune, mode: 'qlora' as never } }), /finetune\.mode/],
    ] as const) {
      const d = createDispatcher(handlers({ 'train:runs': () => ({ runs: [bad as never] }) }));
      await refused(d, 'train:runs', {}, 'IPC_INVALID_RESPONSE', msg);
    }
    // pause and resume answer a run of either kind.
    const d = createDispatcher(handlers({ 'train:pause': () => finetuneRun({ state: 'paused', adapter: null }) }));
    expect(await d('train:pause', { run: 'stories-lora' }, ctx)).toMatchObject({ ok: true, value: { kind: 'finetune', state: 'paused' } });
  });
});

describe('adapters in the models channels', () => {
  const adapter = { name: 'stories-lora', bytes: 70_000, rank: 8, alpha: 16, targets: ['attn_q', 'ffn_up'], steps: 6, validLoss: 1.31, createdAt: 5 };

  it('models:adapters takes a model reference and answers its adapters as their headers describe them', async () => {
    const seen: unknown[] = [];
    const d = createDispatcher(
      handlers({
        'models:adapters': (req) => {
          seen.push(req);
          return { model: 'abc123', adapters: [adapter, { ...adapter, name: 'old', rank: null, alpha: null, targets: [], steps: null, validLoss: null }] };
        },
      }),
    );
    expect(await d('models:adapters', { id: 'stories260K' }, ctx)).toMatchObject({ ok: true, value: { model: 'abc123', adapters: [adapter, { name: 'old', rank: null }] } });
    expect(seen).toEqual([{ id: 'stories260K' }]);
    for (const bad of [{}, { id: '' }, { id: 'x'.repeat(257) }, { id: 3 }, { id: 'a', more: 1 }]) await refused(d, 'models:adapters', bad, 'IPC_INVALID_REQUEST', /id|more|Unrecognized/i);
    for (const [a, msg] of [
      [{ ...adapter, name: 'a/b' }, /adapters\.0\.name/],
      [{ ...adapter, rank: 0 }, /adapters\.0\.rank/],
      [{ ...adapter, validLoss: Infinity }, /adapters\.0\.validLoss/],
      [{ ...adapter, steps: -1 }, /adapters\.0\.steps/],
    ] as const) {
      await refused(createDispatcher(handlers({ 'models:adapters': () => ({ model: 'abc123', adapters: [a] }) })), 'models:adapters', { id: 'abc123' }, 'IPC_INVALID_RESPONSE', msg);
    }
    const many = Array.from({ length: MAX_ADAPTERS + 1 }, (_, i) => ({ ...adapter, name: `a${i}` }));
    await refused(createDispatcher(handlers({ 'models:adapters': () => ({ model: 'abc123', adapters: many }) })), 'models:adapters', { id: 'abc123' }, 'IPC_INVALID_RESPONSE', /adapters/);
  });

  it('models:list says whether each model can be fine-tuned and names its adapters (defaults for an answer without them)', async () => {
    const model = { id: 'abc123', name: 'stories260K', architecture: 'llama', parameterCount: 292_000, bytes: 1_185_376, tensorTypes: ['F32'], verified: 'ok', runs: true, runProblem: null };
    const d = createDispatcher(
      handlers({
        'models:list': () => ({
          models: [
            { ...model, finetunes: true, finetuneProblem: null, adapters: [{ name: 'stories-lora', bytes: 70_000 }] },
            { ...model, id: 'def', name: 'gemma', architecture: 'gemma2', finetunes: false, finetuneProblem: 'the architecture is not llama or qwen2 (gemma2)' },
            model,
          ] as never,
        }),
      }),
    );
    const env = await d('models:list', {}, ctx);
    expect(env).toMatchObject({
      ok: true,
      value: {
        models: [
          { finetunes: true, adapters: [{ name: 'stories-lora', bytes: 70_000 }] },
          { finetunes: false, finetuneProblem: /gemma2/, adapters: [] },
          { finetunes: false, finetuneProblem: null, adapters: [] },
        ],
      },
    });
    await refused(createDispatcher(handlers({ 'models:list': () => ({ models: [{ ...model, adapters: [{ name: '../x', bytes: 1 }] }] as never }) })), 'models:list', {}, 'IPC_INVALID_RESPONSE', /adapters/);
  });
});

describe('train:finetune-estimate in the contract', () => {
  const config = { arch: 'llama', vocab: 512, dim: 64, layers: 5, heads: 8, kvHeads: 4, ff: 172, context: 512, ropeTheta: 10000, rmsEps: 1e-5, tied: true, qkvBias: false } as const;
  const answer = { model: 'abc123', config, baseBytes: 1_057_000, rate: { run: 'stories-lora', kind: 'finetune', tokensPerSec: 1200, flopsPerSec: 3.1e9 } } as const;

  it('takes a model and answers its configuration, base bytes and the measured rate (or none)', async () => {
    const seen: unknown[] = [];
    const d = createDispatcher(
      handlers({
        'train:finetune-estimate': (req) => {
          seen.push(req);
          return req.model === 'new' ? { ...answer, rate: null } : answer;
        },
      }),
    );
    expect(await d('train:finetune-estimate', { model: 'stories260K' }, ctx)).toEqual({ ok: true, value: answer });
    expect(await d('train:finetune-estimate', { model: 'new' }, ctx)).toEqual({ ok: true, value: { ...answer, rate: null } });
    expect(seen).toEqual([{ model: 'stories260K' }, { model: 'new' }]);
  });

  it('refuses bad requests and answers that are not an estimate', async () => {
    let calls = 0;
    const d = createDispatcher(
      handlers({
        'train:finetune-estimate': () => {
          calls++;
          return answer;
        },
      }),
    );
    for (const [payload, msg] of [
      [{}, /model/],
      [{ model: '' }, /model/],
      [{ model: 'x'.repeat(257) }, /model/],
      [{ model: 'a', extra: 1 }, /extra|Unrecognized/i],
    ] as const) {
      await refused(d, 'train:finetune-estimate', payload, 'IPC_INVALID_REQUEST', msg);
    }
    expect(calls).toBe(0);
    for (const [bad, msg] of [
      [{ ...answer, baseBytes: -1 }, /baseBytes/],
      [{ ...answer, baseBytes: 1.5 }, /baseBytes/],
      [{ ...answer, config: { ...config, arch: 'gpt2' } }, /config\.arch/],
      [{ ...answer, config: { ...config, dim: 0 } }, /config\.dim/],
      [{ ...answer, rate: { ...answer.rate, tokensPerSec: 0 } }, /rate\.tokensPerSec/],
      [{ ...answer, rate: { ...answer.rate, kind: 'other' } }, /rate\.kind/],
      [{ ...answer, rate: { ...answer.rate, run: '../x' } }, /rate\.run/],
    ] as const) {
      const wrong = createDispatcher(handlers({ 'train:finetune-estimate': () => bad as never }));
      await refused(wrong, 'train:finetune-estimate', { model: 'a' }, 'IPC_INVALID_RESPONSE', msg);
    }
  });
});
