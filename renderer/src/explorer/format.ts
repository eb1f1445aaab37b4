/** Number formatting for the explorer's panels. */

export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function fmtInt(n: number): string {
  return n.toLocaleString('en-US');
}

/** A value with 4 significant digits, exponent form when very small or large. */
export function fmtValue(v: number | null | undefined): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '–';
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 1e5 || a < 1e-3) return v.toExponential(3);
  return v.toPrecision(4);
}

export function fmtHex(n: number): string {
  return `0x${n.toString(16)}`;
}

/** ggml dims as written in GGUF: [columns, rows, ...]. */
export function fmtShape(dims: readonly number[]): string {
  return `[${dims.join(', ')}]`;
}
