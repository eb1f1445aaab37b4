import * as THREE from 'three';
import { colormapLut, scaleFor, type ColorScale, type ColormapName } from '../../../shared/map/colormap';
import type { MapRegionInfo } from '../../../shared/ipc/channels/map';

/**
 * Heat images on the GPU: the pyramid's values go up as they are (R32F, one float per heat
 * pixel) and a shader colours them through a 256-entry colormap texture, so changing the
 * colormap or the range touches uniforms only, never the textures. NaN (no value) is replaced by
 * a sentinel before upload, because NaN tests in GLSL are not reliable across drivers.
 */
export const NO_DATA = -3.0e38;

/** base64 Float32 LE → values with NaN replaced by NO_DATA. */
export function decodeHeat(b64: string): Float32Array<ArrayBuffer> {
  const s = atob(b64);
  const bytes = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  const f = new Float32Array(bytes.buffer, 0, bytes.length >> 2);
  for (let i = 0; i < f.length; i++) if (f[i] !== f[i]) f[i] = NO_DATA;
  return f;
}

/** The heat value at (u, v) of a cell's image (u, v in [0, 1), v down); NaN where there is none. */
export function heatAt(data: Float32Array, size: number, u: number, v: number): number {
  const x = Math.min(size - 1, Math.max(0, Math.floor(u * size)));
  const y = Math.min(size - 1, Math.max(0, Math.floor(v * size)));
  const h = data[y * size + x]!;
  return h <= NO_DATA ? NaN : h;
}

export function heatTexture(data: Float32Array<ArrayBuffer>, size: number): THREE.DataTexture {
  const t = new THREE.DataTexture(data, size, size, THREE.RedFormat, THREE.FloatType);
  // Nearest: a heat pixel is a value, and float textures need an extension to filter.
  t.magFilter = THREE.NearestFilter;
  t.minFilter = THREE.NearestFilter;
  t.generateMipmaps = false;
  t.needsUpdate = true;
  return t;
}

const luts = new Map<ColormapName, THREE.DataTexture>();

export function lutTexture(name: ColormapName): THREE.DataTexture {
  let t = luts.get(name);
  if (!t) {
    const data = colormapLut(name, 256);
    t = new THREE.DataTexture(data, 256, 1, THREE.RGBAFormat, THREE.UnsignedByteType);
    t.magFilter = THREE.LinearFilter;
    t.minFilter = THREE.LinearFilter;
    t.colorSpace = THREE.NoColorSpace;
    t.needsUpdate = true;
    luts.set(name, t);
  }
  return t;
}

const VERTEX = /* glsl */ `
varying vec2 vUv;
void main() {
  vUv = uv;
  gl_Position = projectionMatrix * modelViewMatrix * vec4(position, 1.0);
}`;

const FRAGMENT = /* glsl */ `
uniform sampler2D heat;
uniform sampler2D lut;
uniform float lo;
uniform float hi;
uniform float opacity;
varying vec2 vUv;
void main() {
  // Row 0 of a heat image is the top of its cell; texture row 0 is at v = 0 (the bottom).
  float h = texture2D(heat, vec2(vUv.x, 1.0 - vUv.y)).r;
  if (h < -1.0e37) discard;
  float t = hi > lo ? clamp((h - lo) / (hi - lo), 0.0, 1.0) : 0.5;
  vec3 c = texture2D(lut, vec2(t * (255.0 / 256.0) + 0.5 / 256.0, 0.5)).rgb;
  gl_FragColor = vec4(c, opacity);
}`;

export type HeatMaterial = THREE.ShaderMaterial & {
  uniforms: { heat: { value: THREE.Texture | null }; lut: { value: THREE.Texture }; lo: { value: number }; hi: { value: number }; opacity: { value: number } };
};

/** One material per drawn cell (the program is shared: three keys it by the shader source). */
export function heatMaterial(side: THREE.Side = THREE.FrontSide): HeatMaterial {
  return new THREE.ShaderMaterial({
    uniforms: { heat: { value: null }, lut: { value: lutTexture('viridis') }, lo: { value: 0 }, hi: { value: 1 }, opacity: { value: 1 } },
    vertexShader: VERTEX,
    fragmentShader: FRAGMENT,
    side,
    transparent: false,
    depthWrite: true,
  }) as HeatMaterial;
}

export type ColormapChoice = ColormapName | 'auto';
export type RangeChoice = 'tensor' | 'shared';

export function setScale(m: HeatMaterial, s: ColorScale): void {
  m.uniforms.lut.value = lutTexture(s.colormap);
  m.uniforms.lo.value = s.lo;
  m.uniforms.hi.value = s.hi;
}

export { scaleFor };

/** The heat range region `r`'s statistics are coloured over: its own, or the one `shared` range when `range` asks for it. */
export function heatRangeOf(r: MapRegionInfo, range: RangeChoice, shared: [number, number] | null): [number, number] {
  if (range === 'shared' && shared) return shared;
  const p = r.pyramid;
  if (p.heatMin !== null && p.heatMax !== null) return [p.heatMin, p.heatMax];
  if (p.stats && p.stats.min !== null && p.stats.max !== null) return [p.stats.min, p.stats.max];
  return [0, 1];
}
