import { describe, expect, it } from 'vitest';
import { GpuUsageError, ShaderCompileError, ShaderIncludeError } from '../../shared/gpu';
import { loadShadersFromDir, useGpu } from '../support/gpu';

// //#include through the real runtime on Dawn: compile errors land on the file and line a person
// edits, include-only files are refused, and a changed include rebuilds what pulled it in.

const WRITE = /* wgsl */ `//#include "_t_value"
@group(0) @binding(0) var<storage, read_write> out: array<u32>;
@compute @workgroup_size(1)
fn main() {
  out[0] = VALUE;
}
`;
const LIB_BROKEN = 'fn ok() {}\nfn bad() {\n  let v: u32 = 1.5;\n}\n';

const g = useGpu();

describe('//#include on WebGPU (Dawn)', () => {
  it('points a compile error inside an include at that file and line', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    g.ctx.addShaders({
      _t_lib_broken: LIB_BROKEN,
      t_uses_broken: '// header\n//#include "_t_lib_broken"\n@compute @workgroup_size(1)\nfn main() {}\n',
    });
    const e = await g.ctx.pipeline('t_uses_broken').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ShaderCompileError);
    const err = e as ShaderCompileError;
    expect(err.messages[0]).toMatchObject({ file: '_t_lib_broken', line: 3, text: '  let v: u32 = 1.5;' });
    expect(err.message).toMatch(/^t_uses_broken\.wgsl did not compile:\n {2}_t_lib_broken\.wgsl:3:\d+: /);
  });

  it('points an error after the includes of a real matvec kernel at the kernel file', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    // matvec_q4_0 pulls in three files (~200 lines) before its own line 15; the error must not
    // be reported at its line in the expanded text.
    const own = loadShadersFromDir().matvec_q4_0!;
    const lines = own.split('\n');
    const at = lines.findIndex((l) => l.startsWith('const BLOCK_BYTES'));
    lines.splice(at + 1, 0, 'const BROKEN: u32 = 1.5;');
    g.ctx.addShaders({ t_matvec_broken: lines.join('\n') });
    const err = (await g.ctx.pipeline('t_matvec_broken', { entryPoint: 'matvec' }).catch((x: unknown) => x)) as ShaderCompileError;
    expect(err).toBeInstanceOf(ShaderCompileError);
    expect(err.messages[0]).toMatchObject({ file: 't_matvec_broken', line: at + 2, text: 'const BROKEN: u32 = 1.5;' });
    expect(err.message).toContain(`t_matvec_broken.wgsl:${at + 2}:`);
  });

  it('refuses to compile an include-only file, and reports a missing include', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    expect(g.ctx.hasShader('_matvec_common')).toBe(false);
    expect(g.ctx.hasShader('matvec_q4_0')).toBe(true);
    await expect(g.ctx.pipeline('_matvec_common')).rejects.toBeInstanceOf(GpuUsageError);
    g.ctx.addShaders({ t_missing: 'fn f() {}\n//#include "_t_not_there"\n' });
    const e = await g.ctx.pipeline('t_missing').catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ShaderIncludeError);
    expect((e as ShaderIncludeError).message).toMatch(/^t_missing\.wgsl:2: /);
  });

  it('rebuilds a shader when a file it includes changes', async (t) => {
    if (!g.ctx) return t.skip(g.reason);
    const c = g.ctx;
    const run = async () => {
      const out = c.storage(4, 'out');
      c.dispatch(await c.pipeline('t_write'), [out], 1);
      const [v] = await c.readU32(out);
      out.destroy();
      return v;
    };
    c.addShaders({ _t_value: 'const VALUE: u32 = 7u;', t_write: WRITE });
    expect(await run()).toBe(7);
    c.addShaders({ _t_value: 'const VALUE: u32 = 9u;' });
    expect(await run()).toBe(9);
  });
});
