/**
 * Pixel-LLM GPU runtime: one WebGPU engine for the renderer and for Node (`webgpu` / Dawn).
 *
 * Open a device
 *   const ctx = await openDevice(gpu, { shaders, disableF16?, disableSubgroups?, require?, maxLimits?, onLost? });
 *     - `gpu`: navigator.gpu in the renderer, `create([...])` from `webgpu` in Node; or pass `adapter`.
 *     - picks `shader-f16`, `subgroups`, `timestamp-query` when the adapter has them (f32 always works);
 *       asks for maxStorageBufferBindingSize, maxBufferSize, maxStorageBuffersPerShaderStage,
 *       maxComputeWorkgroupStorageSize, maxComputeInvocationsPerWorkgroup, maxComputeWorkgroupSizeX
 *       up to what the adapter offers (`maxLimits` caps them, e.g. to emulate SwiftShader).
 *   ctx.device, ctx.caps = { f16, subgroups, timestamps, limits }, ctx.adapter (AdapterSummary).
 *   describeAdapter(adapter) / formatAdapterSummary(summary): standalone, for the status bar and `pxi gpu`.
 *
 * Shaders
 *   ShaderSource = { [name]: wgsl } (name = file name in shaders/ without .wgsl). The host supplies it:
 *   Node `loadShadersFromDir()` in electron/gpu/shaders.ts, the renderer `import x from '...wgsl?raw'`.
 *   A line `//#include "name"` pulls in shaders/name.wgsl when the shader is compiled (once per
 *   shader; shader-includes.ts); `_name.wgsl` files are include-only and never compiled alone.
 *   await ctx.pipeline(name, { entryPoint = 'main', constants? }) -> GPUComputePipeline, cached by
 *   shader + entry point + override constants; compile errors throw ShaderCompileError (file:line:col).
 *   Pipelines use layout 'auto' and bind group 0 only.
 *
 * Buffers (sizes rounded up to 4 bytes; over the limits -> ModelTooLargeError)
 *   ctx.storage(typedArrayOrBytes, label?, extraUsage?)   STORAGE | COPY_SRC | COPY_DST
 *   ctx.uniform(params() .u32(..).f32(..) | view, label?)  long-lived uniform
 *   ctx.createBuffer(size, BufferUsage.X | ..., label?)   raw
 *   await ctx.checked(label, () => { ...sync allocations... })  -> OutOfGpuMemoryError / GpuValidationError
 *   ctx.write(buffer, view, byteOffset?)
 *   await ctx.read(buffer, byteOffset?, bytes?) / ctx.readF32(buffer, count?, offsetElems?) / ctx.readU32(...)
 *
 * Dispatch
 *   const b = ctx.batch('layer 3');
 *   b.dispatch(pipeline, [b.uniform(params().u32(n)), x, y], workgroups, label?);  // bindings by number
 *   b.copy(src, srcOff, dst, dstOff, bytes); b.clear(buf); b.submit();
 *   ctx.dispatch(pipeline, bindings, workgroups)  one-shot;  await ctx.sync()
 *   workgroups: a number (split into [x, y] past 65535: kernels use wid.x + wid.y * nwg.x and
 *   bound-check, see splitWorkgroups) or an explicit [x, y, z].
 *   ctx.setTimingHook((batchLabel, [{ label, ms }]) => ...) per-pass GPU times where timestamp-query exists.
 *
 * Checks and errors (errors.ts, limits.ts; all PxiError)
 *   WebGpuUnavailableError, FeatureMissingError, OutOfGpuMemoryError, DeviceLostError (after
 *   device.lost every ctx call throws it; `onLost` is told once), ModelTooLargeError, ContextWindowExceededError,
 *   ShaderCompileError, ShaderNotFoundError, GpuValidationError, GpuUsageError.
 *   checkBuffersFit(caps, [{ name, bytes }]), checkFeatures(caps, { f16 }), checkContextWindow(start, n, max).
 *
 * Kernels (kernels.ts): const k = await CoreKernels.create(ctx); then synchronous encoders into a batch:
 *   k.rmsnorm(b, { x, w, y, rows, n, eps })          k.rope(b, { x, invFreq, T, heads, headDim, pos0, neox, stride?, offset? })
 *   k.createKvCache(maxContext, kvHeads, headDim)    k.kvAppend(b, { cache, k, v, T, pos0, k/vStride?, k/vOffset? })
 *   k.attention(b, { q, cache, out, T, heads, pos0, qStride?, qOffset?, scale? })
 *   k.add / addInPlace / swiglu / swigluFused / biasAdd / scale      k.argmax(b, { x, n, offset?, out, scratch })
 *   k.softmax(b, { x, out, rows, n, temperature?, rowOffset? })
 *   References (CPU, f64): shared/engine/reference/*.ts. CPU sampling: shared/engine/sampling.ts.
 *
 * Node note: keep the `GPU` instance from `create()` alive as long as its device (the context holds
 * it): dawn.node 0.6.2 crashes (futex / mutex errors) when the instance is garbage-collected first.
 */
export * from './adapter';
export * from './batch';
export * from './buffer-usage';
export * from './context';
export * from './device';
export * from './errors';
export * from './kernels';
export * from './limits';
export * from './params';
export * from './shader-includes';
export * from './ledger';
