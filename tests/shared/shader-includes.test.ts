import { describe, expect, it } from 'vitest';
import { loadShadersFromDir } from '../../electron/gpu/shaders';
import { expandShaderIncludes, isIncludeOnlyShader, ShaderCompileError, ShaderIncludeError, shaderLineOrigin } from '../../shared/gpu';
import { WEIGHT_SHADERS } from '../../shared/engine/quant-matmul';
import { INT_WEIGHT_TYPES, intShader, intVariantsOfType } from '../../shared/engine/int-matvec';
import { FUSED_MATVEC_SHADER } from '../../shared/engine/fused-matvec';

/** The error thrown by fn, checked to be a ShaderIncludeError. */
function includeError(fn: () => unknown): ShaderIncludeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ShaderIncludeError);
    return e as ShaderIncludeError;
  }
  throw new Error('expected a ShaderIncludeError');
}

describe('expandShaderIncludes', () => {
  it('returns a shader without directives unchanged, each line mapped to itself', () => {
    const code = 'fn a() {}\n// #include "x" is prose here (space after //)\n\nfn b() {}\n';
    const ex = expandShaderIncludes('s', { s: code });
    expect(ex.code).toBe(code);
    expect(ex.includes).toEqual([]);
    expect(ex.lines).toEqual([1, 2, 3, 4, 5].map((line) => ({ file: 's', line })));
  });

  it('puts the included text after the directive and maps every line to its file', () => {
    const src = {
      main: 'const A = 1u;\n//#include "_lib"\nfn main() {}\n',
      _lib: 'fn lib1() {}\nfn lib2() {}\n', // the final newline adds no blank line
    };
    const ex = expandShaderIncludes('main', src);
    expect(ex.code.split('\n')).toEqual(['const A = 1u;', '//#include "_lib"', 'fn lib1() {}', 'fn lib2() {}', 'fn main() {}', '']);
    expect(ex.includes).toEqual(['_lib']);
    expect(ex.lines.map((o) => `${o.file}:${o.line}`)).toEqual(['main:1', 'main:2', '_lib:1', '_lib:2', 'main:3', 'main:4']);
    expect(shaderLineOrigin(ex, 4)).toEqual({ file: '_lib', line: 2 });
    expect(shaderLineOrigin(ex, 5)).toEqual({ file: 'main', line: 3 });
    expect(shaderLineOrigin(ex, 0)).toBeUndefined();
    expect(shaderLineOrigin(ex, 99)).toBeUndefined();
  });

  it('expands nested includes and each file once (a diamond keeps one copy)', () => {
    const src = new Map([
      ['top', '//#include "_a"\n//#include "_b"\n//#include "_d"\nfn top() {}'],
      ['_a', '//#include "_d"\nfn a() {}'],
      ['_b', '//#include "_d.wgsl"   // the extension may be written\nfn b() {}'],
      ['_d', 'fn d() {}'],
    ]);
    const ex = expandShaderIncludes('top', src);
    expect(ex.includes).toEqual(['_a', '_d', '_b']);
    expect(ex.code.match(/fn d\(\)/g)).toHaveLength(1);
    expect(ex.code.split('\n')).toEqual([
      '//#include "_a"',
      '//#include "_d"',
      'fn d() {}',
      'fn a() {}',
      '//#include "_b"',
      '//#include "_d.wgsl"   // the extension may be written',
      'fn b() {}',
      '//#include "_d"',
      'fn top() {}',
    ]);
    expect(ex.lines[2]).toEqual({ file: '_d', line: 1 });
    expect(ex.lines[8]).toEqual({ file: 'top', line: 4 });
  });

  it('names the including file and line of a cycle', () => {
    const e = includeError(() => expandShaderIncludes('s', { s: '//#include "_a"', _a: 'x\n//#include "_b"', _b: '\n\n//#include "_a"' }));
    expect(e.code).toBe('SHADER_INCLUDE');
    expect(e.problem).toBe('cycle');
    expect([e.file, e.line]).toEqual(['_b', 3]);
    expect(e.message).toBe('_b.wgsl:3: #include "_a" makes a cycle: _a.wgsl → _b.wgsl → _a.wgsl');
    const self = includeError(() => expandShaderIncludes('s', { s: 'fn f() {}\n//#include "s"' }));
    expect([self.problem, self.file, self.line]).toEqual(['cycle', 's', 2]);
  });

  it('names the including file and line of a missing include', () => {
    const e = includeError(() => expandShaderIncludes('s', { s: '//#include "_a"', _a: '\n//#include "_nope"' }));
    expect([e.problem, e.file, e.line]).toEqual(['missing', '_a', 2]);
    expect(e.message).toMatch(/^_a\.wgsl:2: .*shaders\/_nope\.wgsl/);
    // Only own entries count: "constructor" is not Object's.
    expect(includeError(() => expandShaderIncludes('s', { s: '//#include "constructor"' })).problem).toBe('missing');
    expect(includeError(() => expandShaderIncludes('gone', {})).problem).toBe('missing');
  });

  it('rejects a malformed directive instead of ignoring it', () => {
    for (const bad of ['//#include _a', '//#include "../_a"', '//#include "_a" trailing', '//#includes "_a"', '  //#include']) {
      const e = includeError(() => expandShaderIncludes('s', { s: `fn f() {}\n${bad}`, _a: '' }));
      expect([bad, e.problem, e.line]).toEqual([bad, 'malformed', 2]);
    }
  });

  it('marks `_name` files include-only', () => {
    expect(isIncludeOnlyShader('_matvec_common')).toBe(true);
    expect(isIncludeOnlyShader('matvec_q4_0')).toBe(false);
  });

  it('reports a compile message in the file and line it maps to', () => {
    const e = new ShaderCompileError('matvec_q4_0', undefined, [{ file: '_matvec_common', line: 12, column: 5, message: 'bad', text: '  x' }]);
    expect(e.message).toContain('  _matvec_common.wgsl:12:5: bad\n    | x');
    expect(new ShaderCompileError('t', undefined, [{ line: 2, column: 1, message: 'm' }]).message).toContain('t.wgsl:2:1: m');
  });
});

describe('the shaders of shaders/', () => {
  const shaders = loadShadersFromDir();
  const names = Object.keys(shaders);
  const compiled = names.filter((n) => !isIncludeOnlyShader(n));

  it('expand without errors, and every include-only file is used', () => {
    const used = new Set<string>();
    for (const n of compiled) for (const inc of expandShaderIncludes(n, shaders).includes) used.add(inc);
    expect(names.filter(isIncludeOnlyShader).filter((n) => !used.has(n))).toEqual([]);
    for (const inc of used) expect(isIncludeOnlyShader(inc), `${inc} is included, so it must be named _${inc}`).toBe(true);
  });

  it('give every matvec kernel one copy of the common bindings and entry points', () => {
    const integer = new Set(INT_WEIGHT_TYPES.flatMap((t) => intVariantsOfType(t).map((v) => intShader(t, v))));
    // The fused decode product (F32 with the norm, SwiGLU or residual folded in) is its own op, not a weight type's kernel.
    expect(compiled).toContain(FUSED_MATVEC_SHADER);
    const matvec = compiled.filter((n) => n.startsWith('matvec_') && !integer.has(n) && n !== FUSED_MATVEC_SHADER);
    // Every integer decode kernel is one of shared/engine/int-matvec.ts's (type, variant) pairs.
    expect(compiled.filter((n) => /^matvec_.*_i8/.test(n)).every((n) => integer.has(n))).toBe(true);
    for (const n of integer) expect(compiled, `${n} is named by int-matvec.ts`).toContain(n);
    // One f32-path kernel per weight type the engine runs (shared/engine/quant-matmul.ts), no more.
    expect(matvec.sort()).toEqual(Object.values(WEIGHT_SHADERS).sort());
    expect(matvec).toHaveLength(15);
    for (const n of matvec) {
      const ex = expandShaderIncludes(n, shaders);
      expect(ex.includes, n).toContain('_matvec_common');
      for (const decl of ['struct Params', '@binding(1)', 'fn matvec(', 'fn matmul(', 'fn get_rows(']) {
        expect(ex.code.split(decl).length - 1, `${n}: ${decl}`).toBe(1);
      }
    }
  });
});
