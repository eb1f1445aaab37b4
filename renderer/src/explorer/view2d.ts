import * as THREE from 'three';
import { rectMatrix } from './rect-matrix';
import type { MapCellInfo, MapRegionInfo } from '../../../shared/ipc/channels/map';
import { unionRects, type Rect } from '../../../shared/map/geometry';
import type { Camera2D } from './camera';
import { heatMaterial, scaleFor, setScale, type ColormapChoice, type HeatMaterial, type RangeChoice } from './heat';
import { cellKey, type CachedCell, type TextureCache } from './texture-cache';

export const KIND_COLORS: Record<MapRegionInfo['kind'], number> = {
  weights: 0xd05ad0,
  activations: 0x6f8fa8,
  'kv-cache': 0xa8784f,
  free: 0x4a3a55,
  corpus: 0x5fae7e,
};

/** A tensor's room (its whole tiles) when the tensor itself is drawn in its shape inside it: dim. */
const ROOM_COLOR = 0x4a3a55;

const ORDER = { parent: 1, cell: 2, outline: 3, live: 4, hover: 5, selection: 6 } as const;
/** The live engine's colours: the stage being computed, and the KV cache in use. */
const LIVE_ACTIVE = 0xffb347;
const LIVE_KV = 0xf0a060;
/** Allocated KV pages, shaded in turn so that neighbouring pages are told apart. */
const KV_PAGE_COLORS = [0x7a5a3a, 0x5a4a6a] as const;
/** The residual stream is drawn as x / rms(x) per block on a diverging scale over ±this. */
const RESIDUAL_RANGE = 3;
/** byteSpanRects returns at most four rectangles. */
const KV_FILL_RECTS = 4;
/** How far an ancestor is looked for while a cell's own heat loads. */
const ANCESTOR_LEVELS = 8;

/** Vertices of rectangle outlines as line segments, relative to an origin, y up. */
function outlinePositions(rects: readonly Rect[], ox: number, oy: number): Float32Array {
  const p = new Float32Array(rects.length * 24);
  let i = 0;
  for (const r of rects) {
    const x0 = r.x - ox;
    const x1 = r.x + r.width - ox;
    const y0 = -(r.y - oy);
    const y1 = -(r.y + r.height - oy);
    for (const [ax, ay, bx, by] of [
      [x0, y0, x1, y0],
      [x1, y0, x1, y1],
      [x1, y1, x0, y1],
      [x0, y1, x0, y0],
    ] as const) {
      p[i++] = ax;
      p[i++] = ay;
      p[i++] = 0;
      p[i++] = bx;
      p[i++] = by;
      p[i++] = 0;
    }
  }
  return p;
}

export interface DrawSettings {
  colormap: ColormapChoice;
  range: RangeChoice;
}

/**
 * The 2D scene: one quad per drawn heat image (pooled), region outlines in one line geometry,
 * hover and selection outlines. World coordinates are map pixels relative to an origin near the
 * camera, y up, so float32 on the GPU stays exact near what is on screen however far out on the
 * map the view is (the origin moves when the camera goes far).
 */
export class View2D {
  readonly scene = new THREE.Scene();
  readonly camera = new THREE.OrthographicCamera(-1, 1, 1, -1, 0.1, 100);
  private readonly quad = new THREE.PlaneGeometry(1, 1);
  private readonly pool: THREE.Mesh<THREE.PlaneGeometry, HeatMaterial>[] = [];
  private readonly outlines: THREE.LineSegments;
  private readonly hover: THREE.LineSegments;
  private readonly selection: THREE.LineSegments;
  private readonly selectionFill: THREE.Mesh;
  private readonly liveOutline: THREE.LineSegments;
  private readonly liveFill: THREE.Mesh;
  private readonly kvFill: THREE.Mesh[] = [];
  private liveRects: { active: Rect | null; kv: Rect[]; pages: Rect[][] } = { active: null, kv: [], pages: [] };
  private kvPages: THREE.InstancedMesh | null = null;
  /** Each page's bounding box outlined: one screen pixel at any zoom, so a thin page stays visible zoomed out. */
  private readonly kvPageOutlines: THREE.LineSegments;
  /** The residual stream over the activations band (a rows × cols float texture). */
  private readonly residual: THREE.Mesh<THREE.PlaneGeometry, HeatMaterial>;
  private residualTexture: THREE.DataTexture | null = null;
  private residualVersion = -1;
  private residualRect: Rect | null = null;
  private origin = { x: 0, y: 0 };
  private regionRects: MapRegionInfo[] = [];
  private shapeOf: (r: MapRegionInfo) => Rect | null = () => null;
  private hoverRect: Rect | null = null;
  private selectionRect: Rect | null = null;
  /** Heat images drawn by the last rebuild (own cells and stand-ins). */
  drawn = 0;
  standIns = 0;

  constructor() {
    this.camera.position.z = 10;
    const lines = (color: number, order: number, opacity = 1) => {
      const g = new THREE.BufferGeometry();
      const m = new THREE.LineBasicMaterial({ color, depthTest: false, transparent: opacity < 1, opacity, vertexColors: false });
      const l = new THREE.LineSegments(g, m);
      l.renderOrder = order;
      l.frustumCulled = false;
      this.scene.add(l);
      return l;
    };
    const og = new THREE.BufferGeometry();
    this.outlines = new THREE.LineSegments(og, new THREE.LineBasicMaterial({ vertexColors: true, depthTest: false }));
    this.outlines.renderOrder = ORDER.outline;
    this.outlines.frustumCulled = false;
    this.scene.add(this.outlines);
    this.hover = lines(0xffffff, ORDER.hover, 0.9);
    this.selection = lines(0x6cb4ff, ORDER.selection);
    this.selectionFill = new THREE.Mesh(this.quad, new THREE.MeshBasicMaterial({ color: 0x6cb4ff, transparent: true, opacity: 0.14, depthTest: false }));
    this.selectionFill.renderOrder = ORDER.selection;
    this.selectionFill.visible = false;
    this.scene.add(this.selectionFill);
    this.liveOutline = lines(LIVE_ACTIVE, ORDER.live);
    this.liveOutline.visible = false;
    const fill = (color: number, opacity: number) => {
      const m = new THREE.Mesh(this.quad, new THREE.MeshBasicMaterial({ color, transparent: true, opacity, depthTest: false }));
      m.renderOrder = ORDER.live;
      m.frustumCulled = false;
      m.visible = false;
      this.scene.add(m);
      return m;
    };
    this.liveFill = fill(LIVE_ACTIVE, 0.16);
    this.residual = new THREE.Mesh(this.quad, heatMaterial());
    this.residual.material.depthTest = false;
    setScale(this.residual.material, scaleFor(-RESIDUAL_RANGE, RESIDUAL_RANGE, 'diverging'));
    this.residual.renderOrder = ORDER.live;
    this.residual.frustumCulled = false;
    this.residual.visible = false;
    this.scene.add(this.residual);
    for (let i = 0; i < KV_FILL_RECTS; i++) this.kvFill.push(fill(LIVE_KV, 0.55));
    this.kvPageOutlines = lines(LIVE_KV, ORDER.live);
    this.kvPageOutlines.visible = false;
  }

  /** The map point world coordinates are relative to (for overlays drawn into this scene). */
  originOf(): { x: number; y: number } {
    return this.origin;
  }

  /** Points the camera; moves the origin (and everything drawn) when the camera is far from it. */
  updateCamera(cam: Camera2D): boolean {
    const far = Math.max(65536, (8 * cam.width) / cam.zoom);
    let rebased = false;
    if (Math.abs(cam.cx - this.origin.x) > far || Math.abs(cam.cy - this.origin.y) > far) {
      this.origin = { x: Math.round(cam.cx), y: Math.round(cam.cy) };
      rebased = true;
    }
    const c = this.camera;
    c.left = -cam.width / 2 / cam.zoom;
    c.right = cam.width / 2 / cam.zoom;
    c.top = cam.height / 2 / cam.zoom;
    c.bottom = -cam.height / 2 / cam.zoom;
    c.position.x = cam.cx - this.origin.x;
    c.position.y = -(cam.cy - this.origin.y);
    c.updateProjectionMatrix();
    if (rebased) {
      this.setRegions(this.regionRects, this.shapeOf);
      this.setHover(this.hoverRect);
      this.setSelection(this.selectionRect);
      this.setLive(this.liveRects.active, this.liveRects.kv, this.liveRects.pages);
      this.placePages();
      if (this.residualRect) this.place(this.residual, this.residualRect);
    }
    return rebased;
  }

  /**
   * Outlines every region; a tensor drawn in its own shape (`shapeOf`) gets its shape outlined
   * in the weights colour and its room (the whole tiles it is stored in) in a dim one.
   */
  setRegions(regions: MapRegionInfo[], shapeOf: (r: MapRegionInfo) => Rect | null = () => null): void {
    this.regionRects = regions;
    this.shapeOf = shapeOf;
    const lines: { rect: Rect; color: number }[] = [];
    for (const r of regions) {
      const s = shapeOf(r);
      if (s) {
        lines.push({ rect: r.rect, color: ROOM_COLOR });
        lines.push({ rect: s, color: KIND_COLORS[r.kind] });
      } else lines.push({ rect: r.rect, color: KIND_COLORS[r.kind] });
    }
    const pos = outlinePositions(
      lines.map((l) => l.rect),
      this.origin.x,
      this.origin.y,
    );
    const col = new Float32Array(pos.length);
    const c = new THREE.Color();
    lines.forEach((l, i) => {
      c.setHex(l.color);
      for (let k = 0; k < 8; k++) col.set([c.r, c.g, c.b], (i * 8 + k) * 3);
    });
    const g = this.outlines.geometry;
    g.setAttribute('position', new THREE.BufferAttribute(pos, 3));
    g.setAttribute('color', new THREE.BufferAttribute(col, 3));
    g.computeBoundingSphere();
  }

  private setRect(line: THREE.LineSegments, r: Rect | null): void {
    line.visible = r !== null;
    if (r) line.geometry.setAttribute('position', new THREE.BufferAttribute(outlinePositions([r], this.origin.x, this.origin.y), 3));
  }

  setHover(r: Rect | null): void {
    this.hoverRect = r;
    this.setRect(this.hover, r);
  }

  setSelection(r: Rect | null): void {
    this.selectionRect = r;
    this.setRect(this.selection, r);
    this.selectionFill.visible = r !== null;
    if (r) this.place(this.selectionFill, r);
  }

  /** The live engine: the stage just computed (lit), the KV cache's allocated pages and the used part of them. */
  setLive(active: Rect | null, kv: readonly Rect[], pages: readonly Rect[][] = []): void {
    const samePages = pages.length === this.liveRects.pages.length && pages.every((p, i) => p.length === this.liveRects.pages[i]!.length && p.every((r, j) => sameRect(r, this.liveRects.pages[i]![j]!)));
    this.liveRects = { active, kv: [...kv], pages: pages.map((p) => [...p]) };
    if (!samePages || !this.kvPages) this.placePages();
    this.setRect(this.liveOutline, active);
    this.liveFill.visible = active !== null;
    if (active) this.place(this.liveFill, active);
    this.kvFill.forEach((m, i) => {
      const r = kv[i];
      m.visible = r !== undefined;
      if (r) this.place(m, r);
    });
  }

  /**
   * The residual stream after each block (rows: blocks, top to bottom; columns: the embedding),
   * drawn over the model's activations band; null hides it.
   */
  setActivations(a: { rect: Rect; rows: number; cols: number; values: Float32Array<ArrayBuffer>; version: number } | null): void {
    this.residual.visible = a !== null;
    this.residualRect = a?.rect ?? null;
    if (!a) return;
    this.place(this.residual, a.rect);
    if (a.version === this.residualVersion) return;
    this.residualVersion = a.version;
    const t = this.residualTexture;
    if (t && t.image.width === a.cols && t.image.height === a.rows) {
      (t.image.data as Float32Array).set(a.values);
      t.needsUpdate = true;
      return;
    }
    t?.dispose();
    const tex = new THREE.DataTexture(a.values.slice(), a.cols, a.rows, THREE.RedFormat, THREE.FloatType);
    tex.magFilter = THREE.NearestFilter;
    tex.minFilter = THREE.NearestFilter;
    tex.generateMipmaps = false;
    tex.needsUpdate = true;
    this.residualTexture = tex;
    this.residual.material.uniforms.heat.value = tex;
  }

  /** One instanced quad per page rectangle, under the used fill. */
  private placePages(): void {
    this.kvPages?.removeFromParent();
    this.kvPages?.dispose();
    this.kvPages = null;
    const rects = this.liveRects.pages.flatMap((p, i) => p.map((r) => ({ r, i })));
    const boxes = this.liveRects.pages.map((p) => unionRects(p)).filter((b): b is Rect => b !== null);
    this.kvPageOutlines.visible = boxes.length > 0;
    if (boxes.length) this.kvPageOutlines.geometry.setAttribute('position', new THREE.BufferAttribute(outlinePositions(boxes, this.origin.x, this.origin.y), 3));
    if (rects.length === 0) return;
    const mesh = new THREE.InstancedMesh(this.quad, new THREE.MeshBasicMaterial({ transparent: true, opacity: 0.7, depthTest: false }), rects.length);
    mesh.renderOrder = ORDER.live - 0.5;
    mesh.frustumCulled = false;
    const m = new THREE.Matrix4();
    const c = new THREE.Color();
    rects.forEach(({ r, i }, k) => {
      mesh.setMatrixAt(k, rectMatrix(m, r, this.origin));
      mesh.setColorAt(k, c.setHex(KV_PAGE_COLORS[i % 2]!));
    });
    this.scene.add(mesh);
    this.kvPages = mesh;
  }

  private place(m: THREE.Object3D, r: Rect): void {
    m.position.set(r.x + r.width / 2 - this.origin.x, -(r.y + r.height / 2 - this.origin.y), 0);
    m.scale.set(r.width, r.height, 1);
  }

  /** The range every tile was coloured over when one range for all is chosen (the legend shows it); null otherwise. */
  sharedRange: [number, number] | null = null;

  /**
   * Chooses what to draw for the view's cells: each cell's own heat when cached, else its
   * nearest cached ancestor (drawn beneath), else its cached children; and colours them. Cells of
   * tensors drawn in their own shape (`shaped`) are chosen and counted the same way but get no
   * quad: the shape layer colours the tensor from them (shape-layer.ts).
   */
  rebuild(cells: readonly MapCellInfo[], cache: TextureCache, regionsById: Map<string, MapRegionInfo>, settings: DrawSettings, shaped: (regionId: string) => boolean = () => false): void {
    cache.generation++;
    const draw = new Map<string, { e: CachedCell; order: number }>();
    for (const c of cells) {
      const own = cache.get(cellKey(c));
      if (own) {
        draw.set(own.key, { e: own, order: ORDER.cell });
        continue;
      }
      let found = false;
      for (let k = 1; k <= ANCESTOR_LEVELS && !found; k++) {
        const a = cache.get(cellKey({ regionId: c.regionId, level: c.level + k, col: Math.floor(c.col / 2 ** k), row: Math.floor(c.row / 2 ** k) }));
        if (a) {
          if (!draw.has(a.key)) draw.set(a.key, { e: a, order: ORDER.parent });
          found = true;
        }
      }
      if (!found && c.level > 0) {
        for (let dy = 0; dy < 2; dy++) {
          for (let dx = 0; dx < 2; dx++) {
            const ch = cache.get(cellKey({ regionId: c.regionId, level: c.level - 1, col: 2 * c.col + dx, row: 2 * c.row + dy }));
            if (ch && !draw.has(ch.key)) draw.set(ch.key, { e: ch, order: ORDER.parent });
          }
        }
      }
    }
    // One shared range over everything drawn, when asked for.
    let sharedLo = Infinity;
    let sharedHi = -Infinity;
    if (settings.range === 'shared') {
      for (const { e } of draw.values()) {
        const [lo, hi] = rangeOf(e, regionsById);
        sharedLo = Math.min(sharedLo, lo);
        sharedHi = Math.max(sharedHi, hi);
      }
    }
    this.sharedRange = settings.range === 'shared' && sharedHi >= sharedLo ? [sharedLo, sharedHi] : null;
    let i = 0;
    let drawn = 0;
    this.standIns = 0;
    for (const { e, order } of draw.values()) {
      cache.touch(e);
      drawn++;
      if (order === ORDER.parent) this.standIns++;
      if (shaped(e.regionId)) continue;
      const m = this.mesh(i++);
      m.visible = true;
      m.renderOrder = order;
      this.place(m, e.heatRect);
      m.material.uniforms.heat.value = e.texture;
      const [lo, hi] = settings.range === 'shared' ? [sharedLo, sharedHi] : rangeOf(e, regionsById);
      setScale(m.material, scaleFor(lo, hi, settings.colormap));
    }
    this.drawn = drawn;
    for (; i < this.pool.length; i++) this.pool[i]!.visible = false;
  }

  /** The i-th pooled quad, created on first use. */
  private mesh(i: number): THREE.Mesh<THREE.PlaneGeometry, HeatMaterial> {
    let m = this.pool[i];
    if (!m) {
      const mat = heatMaterial();
      mat.depthTest = false;
      m = new THREE.Mesh(this.quad, mat);
      m.frustumCulled = false;
      this.pool.push(m);
      this.scene.add(m);
    }
    return m;
  }

  dispose(): void {
    this.quad.dispose();
    for (const m of this.pool) m.material.dispose();
    this.outlines.geometry.dispose();
    (this.outlines.material as THREE.Material).dispose();
    for (const l of [this.hover, this.selection, this.liveOutline, this.kvPageOutlines]) {
      l.geometry.dispose();
      (l.material as THREE.Material).dispose();
    }
    for (const m of [this.selectionFill, this.liveFill, ...this.kvFill, this.residual]) (m.material as THREE.Material).dispose();
    this.residualTexture?.dispose();
    if (this.kvPages) (this.kvPages.material as THREE.Material).dispose();
    this.kvPages?.dispose();
  }
}

const sameRect = (a: Rect, b: Rect) => a.x === b.x && a.y === b.y && a.width === b.width && a.height === b.height;

/** The value range a cell is coloured over: its tensor's level-0 heat range, else its own. */
export function rangeOf(e: CachedCell, regionsById: Map<string, MapRegionInfo>): [number, number] {
  const p = regionsById.get(e.regionId)?.pyramid;
  if (p && p.heatMin !== null && p.heatMax !== null) return [p.heatMin, p.heatMax];
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < e.data.length; i++) {
    const v = e.data[i]!;
    if (v <= -1e37) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}
