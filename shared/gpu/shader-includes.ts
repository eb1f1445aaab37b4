import { PxiError } from '../errors';

/**
 * A small, explicit include mechanism for WGSL (WGSL has none). A line
 *
 *   //#include "name"
 *
 * in a shader is followed, in the text handed to WebGPU, by the text of `shaders/name.wgsl`
 * (the ShaderSource entry `name`; a trailing `.wgsl` in the directive is accepted). Rules:
 * - the directive is the whole line (leading blanks and a trailing `// comment` allowed); any
 *   other line starting with `//#include` is an error, so a typo never silently drops code;
 * - the directive line itself stays (it is a WGSL comment), so an expanded dump shows where each
 *   included file starts;
 * - includes nest; each file is expanded at most once per shader (the later directives are left
 *   as comments), because WGSL rejects a second declaration of the same name;
 * - a file that includes itself, directly or through others, and an include of a file that was
 *   not loaded are ShaderIncludeErrors naming the including file and line.
 * Every expanded line keeps its origin (file and line), so compile errors point at the file a
 * person edits, not at the expanded text (GpuContext maps getCompilationInfo() through it).
 *
 * Files whose name starts with `_` are include-only: they are not complete shaders, and the
 * runtime refuses to compile them as one (`isIncludeOnlyShader`).
 */

/** Where one line of expanded WGSL came from. */
export interface ShaderLineOrigin {
  /** Shader name: the file in shaders/ without `.wgsl`. */
  file: string;
  /** 1-based line in that file. */
  line: number;
}

export interface ExpandedShader {
  /** The WGSL to compile. Equal to the source when it has no directives. */
  code: string;
  /** `lines[i]` is the origin of line i + 1 of `code`. */
  lines: ShaderLineOrigin[];
  /** The files pulled in, in order of first inclusion (not the shader itself). */
  includes: string[];
}

export type ShaderIncludeProblem = 'missing' | 'cycle' | 'malformed';

/** An `//#include` that cannot be expanded; `file`:`line` is the directive. */
export class ShaderIncludeError extends PxiError {
  readonly problem: ShaderIncludeProblem;
  readonly file: string;
  readonly line: number;
  constructor(problem: ShaderIncludeProblem, file: string, line: number, message: string, details?: Record<string, unknown>) {
    super('SHADER_INCLUDE', `${file}.wgsl:${line}: ${message}`, { problem, file, line, ...details });
    this.problem = problem;
    this.file = file;
    this.line = line;
  }
}

/** Include-only files (`_name.wgsl`) are never compiled on their own. */
export function isIncludeOnlyShader(name: string): boolean {
  return name.startsWith('_');
}

// Strict on purpose: a flat name (the renderer bundles shaders/*.wgsl only, no sub-folders).
const DIRECTIVE = /^\s*\/\/#include/;
const WELL_FORMED = /^\s*\/\/#include\s+"([A-Za-z0-9_-]+)(?:\.wgsl)?"\s*(?:\/\/.*)?$/;

type Sources = Readonly<Record<string, string>> | ReadonlyMap<string, string>;

function lookup(sources: Sources, name: string): string | undefined {
  if (sources instanceof Map) return (sources as ReadonlyMap<string, string>).get(name);
  // Own properties only: "constructor" must be a missing file, not Object's.
  const rec = sources as Readonly<Record<string, string>>;
  return Object.prototype.hasOwnProperty.call(rec, name) ? rec[name] : undefined;
}

/** Expands the `//#include` directives of shader `name` from `sources` (see the module comment). */
export function expandShaderIncludes(name: string, sources: Sources): ExpandedShader {
  const root = lookup(sources, name);
  if (root === undefined) throw new ShaderIncludeError('missing', name, 0, `no shader named "${name}" was loaded`, { include: name });
  const out: string[] = [];
  const lines: ShaderLineOrigin[] = [];
  const includes: string[] = [];
  const done = new Set<string>([name]);
  const stack: string[] = [];

  const visit = (file: string, text: string, isRoot: boolean) => {
    stack.push(file);
    const src = text.split('\n');
    // An included file's final newline would leave a blank line before the includer's next one.
    if (!isRoot && src.length > 1 && src[src.length - 1] === '') src.pop();
    src.forEach((l, i) => {
      out.push(l);
      lines.push({ file, line: i + 1 });
      if (!DIRECTIVE.test(l)) return;
      const m = WELL_FORMED.exec(l);
      if (!m) throw new ShaderIncludeError('malformed', file, i + 1, `expected //#include "name" (a file of shaders/), got: ${l.trim()}`);
      const inc = m[1]!;
      if (stack.includes(inc)) {
        const path = [...stack.slice(stack.indexOf(inc)), inc].map((f) => `${f}.wgsl`).join(' → ');
        throw new ShaderIncludeError('cycle', file, i + 1, `#include "${inc}" makes a cycle: ${path}`, { include: inc });
      }
      if (done.has(inc)) return; // once per shader
      const body = lookup(sources, inc);
      if (body === undefined) throw new ShaderIncludeError('missing', file, i + 1, `#include "${inc}": there is no shaders/${inc}.wgsl`, { include: inc });
      done.add(inc);
      includes.push(inc);
      visit(inc, body, false);
    });
    stack.pop();
  };
  visit(name, root, true);
  return { code: out.join('\n'), lines, includes };
}

/** The origin of 1-based line `line` of expanded code; undefined for a line outside it (e.g. 0). */
export function shaderLineOrigin(expanded: ExpandedShader, line: number): ShaderLineOrigin | undefined {
  return Number.isInteger(line) && line >= 1 ? expanded.lines[line - 1] : undefined;
}
