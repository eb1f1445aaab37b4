/**
 * The layout planner and the layout journal's parser (issue 12 §4): packs follow the read order
 * with blocks gathered, the tile-load and seek counts are exact on hand-worked cases, and a
 * hostile journal or trace is refused with a LayoutError naming file, field and value.
 */
import { describe, expect, it } from 'vitest';
import { recordReads } from '../../shared/engine/read-trace';
import type { TensorSource } from '../../shared/engine/tensor-source';
import { LayoutError } from '../../shared/model/layout-errors';
import { emptyJournal, parseLayoutJournal, parseReadTrace } from '../../shared/model/layout-journal';
import { blockOrder, importPlaces, packPlaces, planLayout, planPacks, readCost, readOrder, type TensorRead } from '../../shared/model/layout-plan';

const T = 100; // tile bytes in these cases

// A toy model: an embedding of 250 bytes, two blocks of a 10-byte norm and a 150-byte matrix, an output norm.
const tensors = [
  { name: 'token_embd.weight', bytes: 250 },
  { name: 'blk.0.attn_norm.weight', bytes: 10 },
  { name: 'blk.0.attn_q.weight', bytes: 150 },
  { name: 'blk.1.attn_norm.weight', bytes: 10 },
  { name: 'blk.1.attn_q.weight', bytes: 150 },
  { name: 'output_norm.weight', bytes: 10 },
];
const files = tensors.map((t, i) => ({ name: t.name, file: `models/m/tensors/${i}` }));
const whole = (names: string[]): TensorRead[] => names.map((n) => ({ tensor: n, offset: 0, length: tensors.find((t) => t.name === n)!.bytes }));

describe('read order', () => {
  it('is first-read order, with unread tensors after in table order, and rejects unknown names', () => {
    const trace: TensorRead[] = [
      { tensor: 'blk.1.attn_q.weight', offset: 0, length: 10 },
      { tensor: 'token_embd.weight', offset: 0, length: 10 },
      { tensor: 'blk.1.attn_q.weight', offset: 10, length: 10 },
    ];
    expect(readOrder(trace, tensors)).toEqual(['blk.1.attn_q.weight', 'token_embd.weight', 'blk.0.attn_norm.weight', 'blk.0.attn_q.weight', 'blk.1.attn_norm.weight', 'output_norm.weight']);
    expect(() => readOrder([{ tensor: 'nope', offset: 0, length: 1 }], tensors, 'trace.json')).toThrow(/trace\.json: reads\[0\]\.tensor = "nope"/);
  });

  it('gathers each block where it is first read, and leaves other tensors in place', () => {
    const interleaved = ['token_embd.weight', 'blk.0.attn_norm.weight', 'blk.1.attn_norm.weight', 'blk.0.attn_q.weight', 'blk.1.attn_q.weight', 'output_norm.weight'];
    expect(blockOrder(interleaved)).toEqual(['token_embd.weight', 'blk.0.attn_norm.weight', 'blk.0.attn_q.weight', 'blk.1.attn_norm.weight', 'blk.1.attn_q.weight', 'output_norm.weight']);
  });
});

describe('packs', () => {
  it('cut where the block changes and where a pack would pass the size cap, tensors back to back', () => {
    const order = tensors.map((t) => t.name);
    const packs = planPacks(order, tensors);
    expect(packs.map((p) => p.tensors.map((t) => t.name))).toEqual([
      ['token_embd.weight'],
      ['blk.0.attn_norm.weight', 'blk.0.attn_q.weight'],
      ['blk.1.attn_norm.weight', 'blk.1.attn_q.weight'],
      ['output_norm.weight'],
    ]);
    expect(packs[1]).toEqual({ size: 160, tensors: [{ name: 'blk.0.attn_norm.weight', offset: 0, bytes: 10 }, { name: 'blk.0.attn_q.weight', offset: 10, bytes: 150 }] });
    // A 100-byte cap splits a block's 160 bytes.
    expect(planPacks(order, tensors, 100).map((p) => p.size)).toEqual([250, 10, 150, 10, 150, 10]);
  });
});

describe('read cost', () => {
  it('counts distinct tile loads, seeks and files on a worked case', () => {
    const trace = whole(tensors.map((t) => t.name));
    // One file per tensor: 3 + 1 + 2 + 1 + 2 + 1 tiles, each tensor's first tile a seek.
    const before = readCost(trace, importPlaces(files), T);
    expect(before).toEqual({ tileLoads: 10, seeks: 6, files: 6, tileBytesLoaded: 1000 });
    const packs = planPacks(tensors.map((t) => t.name), tensors);
    // Packs of 250, 160, 160, 10 bytes: 3 + 2 + 2 + 1 tiles, one seek per pack.
    const after = readCost(trace, packPlaces(packs, (i) => `p${i}`), T);
    expect(after).toEqual({ tileLoads: 8, seeks: 4, files: 4, tileBytesLoaded: 800 });
  });

  it('loads a tile once however many reads touch it, and counts a jump back as a seek', () => {
    const places = importPlaces([{ name: 'a', file: 'f' }]);
    const trace: TensorRead[] = [
      { tensor: 'a', offset: 0, length: 50 },
      { tensor: 'a', offset: 50, length: 50 },
      { tensor: 'a', offset: 250, length: 10 }, // tile 2: a jump
      { tensor: 'a', offset: 150, length: 10 }, // tile 1: a jump back
      { tensor: 'a', offset: 0, length: 0 }, // empty reads load nothing
    ];
    expect(readCost(trace, places, T)).toEqual({ tileLoads: 3, seeks: 3, files: 1, tileBytesLoaded: 300 });
  });

  it('planLayout states the saving for the trace, and never loses or duplicates a tensor', () => {
    const plan = planLayout(whole(tensors.map((t) => t.name)), tensors, importPlaces(files), T);
    expect(plan.before.tileLoads).toBe(10);
    expect(plan.after.tileLoads).toBe(8);
    expect([...plan.order].sort()).toEqual(tensors.map((t) => t.name).sort());
    expect(plan.packs.flatMap((p) => p.tensors.map((t) => t.name))).toEqual(plan.order);
  });
});

describe('the recorder', () => {
  it('logs every read in order and passes the bytes through', async () => {
    const inner: TensorSource = { header: { file: 'x', metadata: new Map(), tensors: [] }, read: async (_n, o, l) => new Uint8Array(l).fill(o) };
    const rec = recordReads(inner);
    expect(Array.from(await rec.read('a', 3, 2))).toEqual([3, 3]);
    await rec.read('b', 0, 1);
    expect(rec.reads).toEqual([
      { tensor: 'a', offset: 3, length: 2 },
      { tensor: 'b', offset: 0, length: 1 },
    ]);
  });
});

describe('journal and trace parsing (hostile input)', () => {
  const sha = 'a'.repeat(64);
  const good = {
    ...emptyJournal('m'),
    active: {
      strategy: 'read-order-packs/1',
      generation: '0123456789abcdef',
      packs: [{ file: 'models/m/layout-0123456789abcdef/0', size: 20, sha256: sha, tensors: [{ name: 'x', offset: 0, bytes: 8 }, { name: 'y', offset: 8, bytes: 12 }] }],
    },
  };
  const model = [
    { name: 'x', bytes: 8 },
    { name: 'y', bytes: 12 },
  ];
  const parse = (j: unknown) => parseLayoutJournal(j, 'layouts/m.json', 'm', model);
  const err = (j: unknown): LayoutError => {
    try {
      parse(j);
    } catch (e) {
      return e as LayoutError;
    }
    throw new Error('expected a LayoutError');
  };
  const withPack = (p: object) => ({ ...good, active: { ...good.active, packs: [{ ...good.active.packs[0], ...p }] } });

  it('accepts a consistent journal', () => {
    expect(parse(JSON.parse(JSON.stringify(good))).active?.packs[0]?.tensors).toHaveLength(2);
  });

  it.each([
    ['not an object', 7, '(root)'],
    ['a newer version', { ...good, version: 2 }, 'version'],
    ['another model', { ...good, modelId: 'n' }, 'modelId'],
    ['a file outside the generation', withPack({ file: 'models/other/0' }), 'active.packs[0].file'],
    ['an unknown tensor', withPack({ tensors: [{ name: 'z', offset: 0, bytes: 8 }, { name: 'y', offset: 8, bytes: 12 }] }), 'active.packs[0].tensors[0].name'],
    ['a gap between tensors', withPack({ tensors: [{ name: 'x', offset: 0, bytes: 8 }, { name: 'y', offset: 9, bytes: 12 }] }), 'active.packs[0].tensors[1].offset'],
    ['a wrong tensor size', withPack({ tensors: [{ name: 'x', offset: 0, bytes: 9 }, { name: 'y', offset: 9, bytes: 12 }] }), 'active.packs[0].tensors[0].bytes'],
    ['a tensor placed twice', withPack({ tensors: [{ name: 'x', offset: 0, bytes: 8 }, { name: 'x', offset: 8, bytes: 8 }] }), 'active.packs[0].tensors[1].name'],
    ['a wrong pack size', withPack({ size: 21 }), 'active.packs[0].size'],
    ['a missing tensor', withPack({ size: 8, tensors: [{ name: 'x', offset: 0, bytes: 8 }] }), 'active.packs'],
    ['a negative offset', withPack({ tensors: [{ name: 'x', offset: -1, bytes: 8 }] }), 'active.packs[0].tensors[0].offset'],
    ['an intent file outside its generation', { ...good, intent: { op: 'apply', generation: 'ffffffffffffffff', files: ['models/m/tensors/0'] } }, 'intent.files[0]'],
    ['a bad generation', { ...good, intent: { op: 'apply', generation: '../x', files: [] } }, 'intent.generation'],
  ])('refuses %s, naming the field', (_what, json, field) => {
    const e = err(json);
    expect(e).toBeInstanceOf(LayoutError);
    expect(e.code).toBe('LAYOUT_JOURNAL_INVALID');
    expect(e.details?.field).toBe(field);
    expect(e.message.startsWith('layouts/m.json: ')).toBe(true);
  });

  it('parses a trace file and refuses a malformed one with the field', () => {
    expect(parseReadTrace({ reads: [{ tensor: 'x', offset: 0, length: 4 }] }, 't.json')).toEqual([{ tensor: 'x', offset: 0, length: 4 }]);
    expect(() => parseReadTrace({ reads: [{ tensor: 'x', offset: 0.5, length: 4 }] }, 't.json')).toThrow(/t\.json: reads\[0\]\.offset = 0\.5/);
    expect(() => parseReadTrace([], 't.json')).toThrow(LayoutError);
  });
});
