// Tests open WebGPU the same way the CLI does.
export { openNodeGpu } from '../../electron/gpu/node-webgpu';
