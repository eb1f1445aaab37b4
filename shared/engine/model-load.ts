/**
 * Model.load's work, apart from the forward pass it prepares: reads the configuration, checks
 * every option and the buffers against the device before anything is allocated, plans the
 * stacked products and the residency, prepares the pipelines, uploads the weights (resident or
 * kept in host memory to stream), allocates the activations and builds the blocks: the
 * ModelParts that model.ts runs. Every buffer made is destroyed again when a step fails.
 */
import { CoreKernels, checkBuffersFit, type BufferNeed, type GpuContext } from '../gpu';
import { blockMatrixNames, modelArchFromGguf, modelConfigFromGguf, modelVectorNames } from '../model';
import { EngineError } from './errors';
import { DECODE_LAYER_ENTRY, DECODE_LAYER_SHADER, packLayer, planDecodeLayer } from './decode-layer';
import { FUSED_MATVEC_ENTRY, FUSED_MATVEC_MAX_COLS, FUSED_MATVEC_SHADER, FUSED_MATVEC_WG } from './fused-matvec';
import { intPipeline, intPrefillOffered, intVariantsFor, isIntWeightType, planIntMatmul, prefillIntVariantFor, planIntMatvec, planQuantize, quantizedXWords, type IntVariant, type IntWeightType } from './int-matvec';
import { DEFAULT_TUNING, isTileVariant, planGetRows, planMatmul, PREFILL_ENTRY, PREFILL_VARIANTS, prefillVariantFits, WEIGHT_CHUNK, type PrefillVariant, type WeightType } from './quant-matmul';
import { paddedLoraRank, readLoraValues, uploadLora, type GpuLora } from './lora';
import { KV_PAGE_POSITIONS } from './kv-pages';
import { planResidency, type ResidencyMatrix } from './residency';
import { MAX_HEAD_DIM } from './support';
import type { TensorInfo, TensorSource } from './tensor-source';
import { WeightStream } from './weight-stream';
import { matrixShape, planRowParts, readVector, weightTypeOf, WeightUploader, type GpuWeight, type HostWeight } from './weights';
import { layerRopeInvFreq } from './rope-tables';
import { DEFAULT_CONTEXT_CAP, DEFAULT_MAX_BATCH, type ModelLoadOptions } from './model-types';
import { intPipelineKey, pipelineKey, type Activations, type Block, type DecodeLayer, type ModelParts } from './model-parts';

/** Reads the configuration, checks it against the device, uploads the weights and allocates the caches. */
export async function loadModelParts(ctx: GpuContext, source: TensorSource, opts: ModelLoadOptions = {}): Promise<ModelParts> {
  const header = source.header;
  const config = modelConfigFromGguf(header);
  const arch = modelArchFromGguf(header, config);
  const file = header.file;
  const contextLength = opts.contextLength ?? Math.min(config.contextLength, DEFAULT_CONTEXT_CAP);
  if (!Number.isInteger(contextLength) || contextLength < 1) {
    throw new EngineError('ENGINE_BAD_OPTION', `contextLength must be a positive integer, got ${contextLength}`, { field: 'contextLength', value: contextLength });
  }
  const kvPageSize = opts.kvPageSize ?? KV_PAGE_POSITIONS;
  if (!Number.isInteger(kvPageSize) || kvPageSize < 1) {
    throw new EngineError('ENGINE_BAD_OPTION', `kvPageSize must be a positive integer, got ${opts.kvPageSize}`, { field: 'kvPageSize', value: opts.kvPageSize });
  }
  const maxBatch = Math.min(opts.maxBatch ?? DEFAULT_MAX_BATCH, contextLength);
  if (!Number.isInteger(maxBatch) || maxBatch < 1) {
    throw new EngineError('ENGINE_BAD_OPTION', `maxBatch must be a positive integer, got ${opts.maxBatch}`, { field: 'maxBatch', value: opts.maxBatch });
  }
  if (arch.ropeFactorsMaxContext !== null && contextLength > arch.ropeFactorsMaxContext) {
    throw new EngineError(
      'ENGINE_UNSUPPORTED_SHAPE',
      `${file}: a context of ${contextLength} needs the long-context RoPE factors (past ${arch.ropeFactorsMaxContext} tokens), which are not supported; choose a context of at most ${arch.ropeFactorsMaxContext}`,
    );
  }
  if (config.headDim > MAX_HEAD_DIM || config.headDim % 2) {
    throw new EngineError('ENGINE_UNSUPPORTED_SHAPE', `${file}: head size ${config.headDim}; the attention kernel takes even sizes up to ${MAX_HEAD_DIM}`);
  }
  const tuning = { ...DEFAULT_TUNING, ...opts.tuning };
  // An explicit shape (a sweep, a test) wins over what the tuner measured.
  const matvecTuning = opts.tuning ? {} : { ...opts.matvecTuning };
  const byName = new Map(header.tensors.map((t) => [t.name, t] as const));
  const tensor = (name: string): TensorInfo => byName.get(name)!; // presence checked by modelConfigFromGguf

  // Check every weight type before anything is uploaded.
  const matrixNames: string[] = ['token_embd.weight'];
  if (!config.tiedOutput) matrixNames.push('output.weight');
  for (let b = 0; b < config.blockCount; b++) matrixNames.push(...blockMatrixNames(arch, b));
  const types = new Set<WeightType>(matrixNames.map((n) => weightTypeOf(tensor(n))));
  const intMatvec = checkIntMatvec(ctx, opts.intMatvec ?? {}, types);
  const prefillMatmul = checkPrefillMatmul(ctx, opts.prefillMatmul ?? {}, types);
  const intPrefill = Object.values(prefillMatmul).some((v) => !isTileVariant(v));

  // Activations and caches, checked against the device before any allocation.
  const maxBinding = Math.min(opts.maxBindingBytes ?? Infinity, ctx.caps.limits.maxStorageBufferBindingSize);
  const { embeddingLength: E, feedForwardLength: F, headCount: H, headCountKv: KVH, headDim: HD, vocabSize: V } = config;
  const logitRows = Math.max(1, Math.min(maxBatch, Math.floor(maxBinding / (V * 4))));
  const f32 = (n: number) => Math.ceil((n * 4) / 16) * 16; // vec4 bindings want multiples of 16 bytes
  // Every pair's values are read now (they are small): a bad adapter fails before any upload.
  const loraValues = opts.lora ? await readLoraValues(opts.lora.source, opts.lora.adapter, opts.lora.scale ?? 1) : null;
  const loraShape = loraValues?.size
    ? { rank: Math.max(...[...loraValues.values()].map((p) => paddedLoraRank(p.rank))), rows: Math.max(...[...loraValues.values()].map((p) => p.rows)) }
    : null;
  if (loraValues) {
    types.add('F32'); // A and B go up as f32
    for (const [target, p] of loraValues) {
      const t = byName.get(target);
      if (!t || !matrixNames.includes(target)) throw new EngineError('ENGINE_BAD_OPTION', `${opts.lora!.adapter.file}: the adapter adapts ${JSON.stringify(target)}, which is not a weight matrix of ${file}`, { tensor: target });
      const { rows, cols } = matrixShape(t);
      if (rows !== p.rows || cols !== p.cols) {
        throw new EngineError('ENGINE_BAD_OPTION', `${opts.lora!.adapter.file}: ${target}.lora_a/b make [${p.rows}, ${p.cols}]; the base's ${target} is [${rows}, ${cols}]`, { tensor: target });
      }
    }
  }
  // Stacked products (with fusion on, no adapter): per block, q | k | v as one matrix where they
  // share a type and nothing between the product and RoPE reads them apart (qwen3/gemma3's
  // per-head norms), and gate | up where the activation has a fused kernel (SiLU). One dispatch
  // instead of three and two; rows are whole blocks, so the logits do not change.
  const fuse = opts.fuse ?? true;
  // A stacked product's output must also fit one binding for a whole prefill batch.
  const fitsBinding = (values: number) => Math.ceil((maxBatch * values * 4) / 16) * 16 <= maxBinding;
  const stackable = fuse && !loraValues?.size;
  const oneType = (names: string[]) => names.every((n) => weightTypeOf(tensor(n)) === weightTypeOf(tensor(names[0]!)));
  const qkvOf = (b: number) => [`blk.${b}.attn_q.weight`, `blk.${b}.attn_k.weight`, `blk.${b}.attn_v.weight`];
  const gateUpOf = (b: number) => [`blk.${b}.ffn_gate.weight`, `blk.${b}.ffn_up.weight`];
  const stacks = new Map<string, string[]>(); // stacked name -> its matrices, in row order
  for (let b = 0; b < config.blockCount; b++) {
    if (stackable && !arch.fusedQkv && !arch.qkNorm && fitsBinding((H + 2 * KVH) * HD) && oneType(qkvOf(b))) stacks.set(`blk.${b}.attn_q|k|v.weight`, qkvOf(b));
    if (stackable && !arch.fusedGateUp && arch.activation === 'silu' && fitsBinding(2 * F) && oneType(gateUpOf(b))) stacks.set(`blk.${b}.ffn_gate|up.weight`, gateUpOf(b));
  }
  const stackOf = new Map([...stacks].flatMap(([name, members]) => members.map((m) => [m, name] as const)));
  const anyStackedQkv = [...stacks.keys()].some((n) => n.includes('attn_q|k|v'));
  const anyStackedGateUp = [...stacks.keys()].some((n) => n.includes('ffn_gate|up'));
  const sizes: Record<keyof Activations, number> = {
    ids: f32(maxBatch),
    x: f32(maxBatch * E),
    xn: f32(maxBatch * E),
    // Fused: one [T, q | k | v] buffer, read in place through strides.
    q: f32(maxBatch * (arch.fusedQkv || anyStackedQkv ? (H + 2 * KVH) * HD : H * HD)),
    k: f32(maxBatch * KVH * HD),
    v: f32(maxBatch * KVH * HD),
    att: f32(maxBatch * H * HD),
    proj: f32(maxBatch * E),
    gate: f32(maxBatch * (arch.fusedGateUp || anyStackedGateUp ? 2 * F : F)),
    up: f32(maxBatch * F),
    act: f32(maxBatch * F),
    qn: arch.qkNorm ? f32(maxBatch * H * HD) : 16,
    kn: arch.qkNorm ? f32(maxBatch * KVH * HD) : 16,
    logits: f32(logitRows * V),
    loraR: loraShape ? f32(maxBatch * loraShape.rank) : 16,
    loraO: loraShape ? f32(maxBatch * loraShape.rows) : 16,
    best: 16,
    scratch: f32(CoreKernels.argmaxScratchBytes(V) / 4),
    // One token for the integer decode kernels, a whole prefill batch for the integer prefill product.
    xq: Object.keys(intMatvec).length || intPrefill ? f32((intPrefill ? maxBatch : 1) * quantizedXWords(Math.ceil(Math.max(E, F, H * HD) / 32) * 32)) : 16,
  };
  const kvBytes = contextLength * KVH * HD * 4;
  const needs: BufferNeed[] = Object.entries(sizes).map(([name, bytes]) => ({ name: `activation ${name}`, bytes }));
  needs.push({ name: 'kv cache (one block, K or V)', bytes: kvBytes });
  checkBuffersFit({ ...ctx.caps, limits: { ...ctx.caps.limits, maxStorageBufferBindingSize: maxBinding } }, needs, file);
  // A weight row that fits no binding is refused now, not halfway through the upload.
  for (const n of matrixNames) {
    const t = tensor(n);
    const { rows } = matrixShape(t);
    planRowParts(n, rows, t.byteSize / rows, maxBinding);
  }

  // The residency plan: the matrices as the GPU holds them (stacks as one), in pass order, and
  // what stays whatever the plan (activations, KV cache, vectors, RoPE tables, an adapter).
  const units: ResidencyMatrix[] = [];
  const unitNames = ['token_embd.weight'];
  for (let b = 0; b < config.blockCount; b++) for (const n of blockMatrixNames(arch, b)) if (!unitNames.includes(stackOf.get(n) ?? n)) unitNames.push(stackOf.get(n) ?? n);
  if (!config.tiedOutput) unitNames.push('output.weight');
  for (const name of unitNames) {
    const members = (stacks.get(name) ?? [name]).map(tensor);
    const rows = members.reduce((s, t) => s + matrixShape(t).rows, 0);
    const rowBytes = members[0]!.byteSize / matrixShape(members[0]!).rows;
    units.push({ name, rows, rowBytes, uses: name === 'token_embd.weight' && config.tiedOutput ? 2 : 1 });
  }
  const vectorNames = modelVectorNames(config, arch);
  const vectorBytes = vectorNames.reduce((s, n) => s + Math.max(4, tensor(n).elementCount * 4), 0);
  const stackedBiasBytes = config.qkvBias ? [...stacks.keys()].filter((n) => n.includes('attn_q|k|v')).length * (H + 2 * KVH) * HD * 4 : 0;
  const loraBytes = loraValues ? [...loraValues.values()].reduce((s, p) => s + paddedLoraRank(p.rank) * (p.rows + p.cols) * 4, 0) : 0;
  const fixedBytes =
    Object.values(sizes).reduce((s, n) => s + n, 0) + 2 * kvBytes * config.blockCount + vectorBytes + stackedBiasBytes + loraBytes + 2 * Math.max(4, (HD / 2) * 4);
  if (opts.gpuMemory !== undefined && (!Number.isFinite(opts.gpuMemory) || opts.gpuMemory <= 0)) {
    throw new EngineError('ENGINE_BAD_OPTION', `gpuMemory must be a positive number of bytes, got ${opts.gpuMemory}`, { field: 'gpuMemory', value: opts.gpuMemory });
  }
  const residency = planResidency({ matrices: units, fixedBytes, budget: opts.gpuMemory ?? null, maxBindingBytes: maxBinding });
  const streamedNames = new Set(residency.streamed);

  const k = await CoreKernels.create(ctx);
  await k.prepareAttention(HD, H / KVH); // attention's workgroup for this head size and group, built before the first pass
  const pipelines = new Map<string, GPUComputePipeline>();
  const want: [WeightType, 'matvec' | 'matmul' | 'matmul_tile' | 'matmul_tile_wg' | 'get_rows'][] = [];
  for (const t of types) want.push([t, 'matvec'], [t, 'matmul']);
  for (const [t, v] of Object.entries(prefillMatmul) as [WeightType, PrefillVariant][]) if (isTileVariant(v)) want.push([t, PREFILL_ENTRY[v]]);
  want.push([weightTypeOf(tensor('token_embd.weight')), 'get_rows']);
  await Promise.all(
    want.map(async ([type, entry]) => {
      // Only the shader, entry point and constants matter here; the shape is any valid one.
      const weights = { type, rows: 1, cols: 256, buffer: {} as GPUBuffer };
      const d =
        entry === 'get_rows'
          ? planGetRows({ weights, count: 1, tuning })
          : planMatmul({ weights, tokens: entry === 'matvec' ? 1 : 2, entryPoint: entry, tuning: entry === 'matvec' ? (matvecTuning[type] ?? tuning) : tuning });
      pipelines.set(pipelineKey(d), await ctx.pipeline(d.shader, { entryPoint: d.entryPoint, constants: d.constants }));
    }),
  );
  for (const [type, v] of Object.entries(prefillMatmul) as [IntWeightType, PrefillVariant][]) {
    if (isTileVariant(v)) continue;
    // The variant on whole groups of 256 values, and what a row of 32 runs (the same where it fits; see prefillIntVariantFor).
    for (const cols of [256, 32]) {
      if (cols % WEIGHT_CHUNK[type] !== 0) continue; // Q4_K and Q6_K rows are whole super-blocks: never 32.
      const variant = prefillIntVariantFor(v, type, cols);
      for (const d of [planQuantize(cols), planIntMatmul({ weights: { type, rows: 1, cols }, variant, tokens: 2 })]) pipelines.set(intPipelineKey(d), await intPipeline(ctx, d));
    }
  }
  for (const [type, variant] of Object.entries(intMatvec) as [IntWeightType, IntVariant][]) {
    // As above, any valid shape: only the shader and constants matter.
    for (const d of [planQuantize(256), planIntMatvec({ weights: { type, rows: 1, cols: 256 }, variant })]) pipelines.set(intPipelineKey(d), await intPipeline(ctx, d));
  }

  const owned: GPUBuffer[] = [];
  const used = new Set([...matrixNames, ...vectorNames]);
  // Upload in file order, so a file source reads forward.
  const order = header.tensors.filter((t) => used.has(t.name));
  const bytesTotal = order.reduce((s, t) => s + t.byteSize, 0);
  let bytesDone = 0;
  let index = 0;
  const report = () => opts.onProgress?.({ tensor: order[Math.min(index, order.length - 1)]?.name ?? '', tensorIndex: index, tensorCount: order.length, bytesDone, bytesTotal });
  const uploader = new WeightUploader(ctx, source, {
    maxBindingBytes: maxBinding,
    signal: opts.signal,
    onBytes: (n) => {
      bytesDone += n;
      report();
    },
  });
  const matrices = new Map<string, GpuWeight>();
  const vectors = new Map<string, GPUBuffer>();
  const hostWeights: HostWeight[] = [];
  let stream: WeightStream | null = null;
  try {
    for (; index < order.length; index++) {
      const t = order[index]!;
      if (matrices.has(t.name) || vectors.has(t.name)) continue;
      if (matrices.has(stackOf.get(t.name) ?? '')) {
        report(); // uploaded with its stack: its bytes are counted, its name still shows
        continue;
      }
      if (vectorNames.includes(t.name)) {
        const values = await readVector(source, t, t.elementCount);
        const buf = await ctx.checked(t.name, () => ctx.storage(values, t.name));
        owned.push(buf);
        vectors.set(t.name, buf);
        bytesDone += t.byteSize;
        report();
      } else {
        const stack = stackOf.get(t.name);
        if (streamedNames.has(stack ?? t.name)) {
          // Kept in host memory; a placeholder marks it done until the slots exist.
          const h = await uploader.host(stack ?? t.name, stack ? stacks.get(stack)!.map(tensor) : [t], residency.pieceBytes);
          hostWeights.push(h);
          matrices.set(h.name, { name: h.name, type: h.type, rows: h.rows, cols: h.cols, bytes: h.bytes, parts: [], streamed: true });
          continue;
        }
        const w = stack ? await uploader.stacked(stack, stacks.get(stack)!.map(tensor)) : await uploader.matrix(t);
        for (const p of w.parts) owned.push(p.buffer);
        matrices.set(w.name, w);
      }
    }
    if (hostWeights.length) {
      const s = await ctx.checked('streamed weight slots', () => new WeightStream(ctx, hostWeights, residency.slotBytes));
      stream = s;
      owned.push(...s.buffers);
      for (const h of hostWeights) matrices.set(h.name, s.weight(h.name));
    }

    const a = await ctx.checked('activations', () => {
      const out = {} as Record<keyof Activations, GPUBuffer>;
      for (const [name, bytes] of Object.entries(sizes) as [keyof Activations, number][]) {
        out[name] = ctx.storage(bytes, `act.${name}`);
        owned.push(out[name]);
      }
      return out as Activations;
    });
    // One table for the global layers, another for the sliding ones when they differ.
    const factors = arch.ropeFactorsTensor ? await readVector(source, tensor(arch.ropeFactorsTensor), config.ropeDimensionCount / 2) : null;
    const tables = [false, true].map((sliding) => layerRopeInvFreq(config, arch, sliding, factors));
    const invFreq = tables.map((t, i) => {
      const buf = ctx.storage(t, i ? 'rope.invFreq.sliding' : 'rope.invFreq');
      owned.push(buf);
      return buf;
    });

    const loras = loraValues ? await ctx.checked('LoRA adapter', () => uploadLora(ctx, loraValues)) : new Map<string, GpuLora>();
    for (const l of loras.values()) owned.push(l.a.parts[0]!.buffer, l.b.parts[0]!.buffer);
    const m = (n: string) => matrices.get(n)!;
    const vec = (n: string) => vectors.get(n)!;
    // A stacked q | k | v product takes its biases as one vector (read again: they are small).
    const stackedBias = async (b: number): Promise<GPUBuffer | null> => {
      if (!config.qkvBias || !matrices.has(`blk.${b}.attn_q|k|v.weight`)) return null;
      const parts = await Promise.all(['q', 'k', 'v'].map((x) => tensor(`blk.${b}.attn_${x}.bias`)).map((t) => readVector(source, t, t.elementCount)));
      const all = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
      let at = 0;
      for (const p of parts) {
        all.set(p, at);
        at += p.length;
      }
      const buf = ctx.storage(all, `blk.${b}.attn_q|k|v.bias`);
      owned.push(buf);
      return buf;
    };
    const blockIds = Array.from({ length: config.blockCount }, (_, b) => b);
    const qkvBiases = await Promise.all(blockIds.map((b) => stackedBias(b)));
    const blocks: Block[] = blockIds.map((b) => {
      const p = `blk.${b}.`;
      const sliding = arch.sliding[b] ?? false;
      const opt = (on: boolean, n: string) => (on ? vec(n) : null);
      const sq = matrices.get(`${p}attn_q|k|v.weight`) ?? null;
      const sg = matrices.get(`${p}ffn_gate|up.weight`) ?? null;
      return {
        attnNorm: vec(`${p}attn_norm.weight`),
        ffnNorm: vec(`${p}ffn_norm.weight`),
        q: arch.fusedQkv || sq ? null : m(`${p}attn_q.weight`),
        k: arch.fusedQkv || sq ? null : m(`${p}attn_k.weight`),
        v: arch.fusedQkv || sq ? null : m(`${p}attn_v.weight`),
        qkv: arch.fusedQkv ? m(`${p}attn_qkv.weight`) : sq,
        o: m(`${p}attn_output.weight`),
        gate: arch.fusedGateUp || sg ? null : m(`${p}ffn_gate.weight`),
        up: sg ?? m(`${p}ffn_up.weight`),
        down: m(`${p}ffn_down.weight`),
        qBias: opt(config.qkvBias && !sq, `${p}attn_q.bias`),
        kBias: opt(config.qkvBias && !sq, `${p}attn_k.bias`),
        vBias: opt(config.qkvBias && !sq, `${p}attn_v.bias`),
        qkvBias: qkvBiases[b]!,
        qNorm: opt(arch.qkNorm, `${p}attn_q_norm.weight`),
        kNorm: opt(arch.qkNorm, `${p}attn_k_norm.weight`),
        attnPostNorm: opt(arch.postNorms, `${p}post_attention_norm.weight`),
        ffnPostNorm: opt(arch.postNorms, `${p}post_ffw_norm.weight`),
        invFreq: invFreq[sliding ? 1 : 0]!,
        window: sliding ? arch.slidingWindow : 0,
      };
    });
    const embd = m('token_embd.weight');
    const output = config.tiedOutput ? embd : m('output.weight');
    // The fused decode products (ModelLoadOptions.fuseDecode): narrow F32 models only.
    const fuseDecode = fuse && (opts.fuseDecode ?? true);
    const products = [output, ...blocks.flatMap((b) => [b.q, b.k, b.v, b.qkv, b.o, b.gate, b.up, b.down])].filter((w): w is GpuWeight => w !== null);
    const fusable =
      fuseDecode &&
      !loras.size &&
      !stream &&
      !arch.postNorms &&
      arch.activation === 'silu' &&
      Math.max(E, F, H * HD) <= FUSED_MATVEC_MAX_COLS &&
      blocks.every((b) => b.gate === null) &&
      products.every((w) => w.type === 'F32' && !w.streamed && w.cols % 4 === 0);
    const fusedMatvec = fusable ? await ctx.pipeline(FUSED_MATVEC_SHADER, { entryPoint: FUSED_MATVEC_ENTRY, constants: { WG: FUSED_MATVEC_WG } }) : null;
    // A whole block per dispatch (ModelLoadOptions.decodeLayers) where the fused products run and
    // the block has nothing the layer kernel leaves out.
    let decodeLayer: DecodeLayer | null = null;
    const plainBlocks = blocks.every(
      (b) => b.qkv && !b.gate && !b.qBias && !b.kBias && !b.vBias && !b.qkvBias && !b.qNorm && !b.kNorm && !b.attnPostNorm && !b.ffnPostNorm && b.window === 0,
    );
    if (fusedMatvec && (opts.decodeLayers ?? true) && plainBlocks && !arch.attnSoftcap) {
      const plan = planDecodeLayer(
        { E, heads: H, kvHeads: KVH, headDim: HD, F, ropeDims: config.ropeDimensionCount, neox: config.ropeType === 'neox' },
        ctx.caps.limits,
      );
      if (!('unfit' in plan)) {
        const pipeline = await ctx.pipeline(DECODE_LAYER_SHADER, { entryPoint: DECODE_LAYER_ENTRY, constants: plan.constants });
        const packs = blocks.map((b, i) =>
          packLayer(ctx, plan, { attnNorm: b.attnNorm, qkv: b.qkv!.parts, o: b.o.parts, ffnNorm: b.ffnNorm, gu: b.up.parts, down: b.down.parts }, `blk.${i}.decode_layer`),
        );
        owned.push(...packs);
        decodeLayer = { plan, pipeline, packs };
      }
    }
    const weightBytes = [...matrices.values()].filter((w) => !w.streamed).reduce((s, w) => s + w.parts.reduce((t, p) => t + p.buffer.size, 0), 0) + residency.slotsBytes;
    return {
      ctx,
      k,
      fuse,
      fuseDecode,
      fusedMatvec,
      decodeLayer,
      residency,
      stream,
      config,
      arch,
      contextLength,
      maxBatch,
      tuning,
      matvecTuning,
      intMatvec,
      prefillMatmul,
      pipelines,
      embd,
      output,
      outputNorm: vec('output_norm.weight'),
      blocks,
      loras,
      a,
      logitRows,
      owned,
      memory: {
        weights:
          weightBytes +
          [...vectors.values()].reduce((s, b) => s + b.size, 0) +
          [...loras.values()].reduce((s, l) => s + l.a.parts[0]!.buffer.size + l.b.parts[0]!.buffer.size, 0) +
          invFreq.reduce((s, b) => s + b.size, 0) +
          (decodeLayer?.packs.reduce((s, b) => s + b.size, 0) ?? 0),
        activations: Object.values(sizes).reduce((s, n) => s + n, 0),
      },
      kvPageSize,
    };
  } catch (e) {
    for (const b of owned) b.destroy();
    throw e;
  }
}

/** Model.load's `intMatvec`, kept for the types the model has; a variant this device cannot run is refused. */
function checkIntMatvec(ctx: GpuContext, want: Partial<Record<WeightType, IntVariant>>, types: ReadonlySet<WeightType>): Partial<Record<IntWeightType, IntVariant>> {
  const out: Partial<Record<IntWeightType, IntVariant>> = {};
  for (const [type, variant] of Object.entries(want) as [WeightType, IntVariant][]) {
    if (!isIntWeightType(type) || !intVariantsFor(ctx, type).includes(variant)) {
      throw new EngineError('ENGINE_BAD_OPTION', `intMatvec: no integer kernel ${String(variant)} for ${type} on this device (offered: ${intVariantsFor(ctx, type).join(', ') || 'none'})`, { field: 'intMatvec', type, variant });
    }
    if (types.has(type)) out[type] = variant;
  }
  return out;
}

/** Model.load's `prefillMatmul`, kept for the types the model has; a variant the type (or, for the integer ones, the device: dot4I8Packed, subgroups of 8) lacks is refused. */
function checkPrefillMatmul(ctx: GpuContext, want: Partial<Record<WeightType, PrefillVariant>>, types: ReadonlySet<WeightType>): Partial<Record<WeightType, PrefillVariant>> {
  const out: Partial<Record<WeightType, PrefillVariant>> = {};
  for (const [type, variant] of Object.entries(want) as [WeightType, PrefillVariant][]) {
    if (!PREFILL_VARIANTS.includes(variant) || !prefillVariantFits(type, variant) || (!isTileVariant(variant) && !intPrefillOffered(ctx, type, variant))) {
      throw new EngineError('ENGINE_BAD_OPTION', `prefillMatmul: no prefill kernel ${String(variant)} for ${type} on this device (variants: ${PREFILL_VARIANTS.join(', ')})`, { field: 'prefillMatmul', type, variant });
    }
    if (types.has(type)) out[type] = variant;
  }
  return out;
}
