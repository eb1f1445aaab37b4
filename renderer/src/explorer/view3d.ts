import * as THREE from 'three';
import { OrbitControls } from 'three/examples/jsm/controls/OrbitControls.js';
import type { MapCellInfo, MapRegionInfo } from '../../../shared/ipc/channels/map';
import type { Rect } from '../../../shared/map/geometry';
import type { TensorShape } from '../../../shared/map/shape';
import { heatMaterial, scaleFor, setScale, type ColormapChoice, type HeatMaterial, type RangeChoice } from './heat';
import { cellKey, type TextureCache } from './texture-cache';
import { KIND_COLORS, rangeOf } from './view2d';

/** Where a region sits in the stack: its layer and its rectangle in layer coordinates (tiles). */
interface Placed {
  region: MapRegionInfo;
  layer: number;
  /** Rect in tile units, relative to its layer's column; y down. */
  x: number;
  y: number;
  w: number;
  h: number;
}

export interface StackLayout {
  modelId: string;
  placed: Placed[];
  layers: number;
  /** Layer names: "pre", "blk 0", ..., "post". */
  names: string[];
  width: number;
  height: number;
}

/**
 * The 3D arrangement of one model: the tensors before the blocks form layer 0, block N layer
 * N + 1, the tensors after the blocks the last layer. Each layer keeps its 2D shelf layout,
 * shifted so that every layer starts at x = 0: the stack reads as one block per slice.
 */
export function stackLayout(modelId: string, regions: readonly MapRegionInfo[]): StackLayout {
  const weights = regions.filter((r) => r.modelId === modelId && r.kind === 'weights');
  const blocks = weights.filter((r) => r.block !== null);
  const nBlocks = blocks.reduce((m, r) => Math.max(m, r.block! + 1), 0);
  const firstBlockOrder = blocks.reduce((m, r) => Math.min(m, r.order), Infinity);
  const layerOf = (r: MapRegionInfo) => (r.block !== null ? r.block + 1 : r.order < firstBlockOrder ? 0 : nBlocks + 1);
  const tw = weights[0]?.grid.tileWidth ?? 1;
  const th = weights[0]?.grid.tileHeight ?? 1;
  const colX = new Map<number, number>();
  const topY = weights.reduce((m, r) => Math.min(m, r.rect.y), Infinity);
  for (const r of weights) {
    const l = layerOf(r);
    colX.set(l, Math.min(colX.get(l) ?? Infinity, r.rect.x));
  }
  let width = 0;
  let height = 0;
  const placed = weights.map((r) => {
    const layer = layerOf(r);
    const p = { region: r, layer, x: (r.rect.x - colX.get(layer)!) / tw, y: (r.rect.y - topY) / th, w: r.rect.width / tw, h: r.rect.height / th };
    width = Math.max(width, p.x + p.w);
    height = Math.max(height, p.y + p.h);
    return p;
  });
  const layers = nBlocks + 2;
  const names = Array.from({ length: layers }, (_, i) => (i === 0 ? 'pre' : i === layers - 1 ? 'post' : `blk ${i - 1}`));
  return { modelId, placed, layers, names, width, height };
}

const LAYER_GAP = 3;

/**
 * The 3D view: a model's layers stacked along z, orbit camera, one translucent quad per tensor
 * (the pick target) with its top pyramid cell's heat over it, outlines, and the selection.
 */
export class View3D {
  readonly scene = new THREE.Scene();
  readonly camera = new THREE.PerspectiveCamera(45, 1, 0.05, 10_000);
  readonly controls: OrbitControls;
  layout: StackLayout | null = null;
  private readonly quad = new THREE.PlaneGeometry(1, 1);
  private readonly group = new THREE.Group();
  /** One faint quad per tensor (its whole extent): the pick target. */
  private readonly picks: THREE.Mesh[] = [];
  private readonly heatMeshes = new Map<string, THREE.Mesh<THREE.PlaneGeometry, HeatMaterial>>();
  private readonly placedById = new Map<string, Placed>();
  private readonly selection: THREE.LineSegments;
  /** The layer the live engine just computed (orange frame around it). */
  private readonly active: THREE.LineSegments;
  private activeLayer: number | null = null;
  private readonly raycaster = new THREE.Raycaster();
  private topCells = new Map<string, MapCellInfo>();
  selectedId: string | null = null;

  constructor(dom: HTMLElement, onChange: () => void) {
    this.scene.add(this.group);
    this.controls = new OrbitControls(this.camera, dom);
    this.controls.enabled = false;
    this.controls.screenSpacePanning = true;
    this.controls.addEventListener('change', onChange);
    const g = new THREE.BufferGeometry();
    this.selection = new THREE.LineSegments(g, new THREE.LineBasicMaterial({ color: 0x6cb4ff, depthTest: false }));
    this.selection.renderOrder = 10;
    this.selection.visible = false;
    this.scene.add(this.selection);
    this.active = new THREE.LineSegments(new THREE.BufferGeometry(), new THREE.LineBasicMaterial({ color: 0xffb347, depthTest: false }));
    this.active.renderOrder = 9;
    this.active.visible = false;
    this.scene.add(this.active);
  }

  /** Frames layer `layer` of the stack (null: none); the live engine's stage in 3D. */
  setActiveLayer(layer: number | null): void {
    if (layer === this.activeLayer) return;
    this.activeLayer = layer;
    const ps = this.layout && layer !== null ? this.layout.placed.filter((p) => p.layer === layer) : [];
    this.active.visible = ps.length > 0;
    if (!ps.length) return;
    const pad = 0.5;
    const x0 = Math.min(...ps.map((p) => p.x)) - pad;
    const x1 = Math.max(...ps.map((p) => p.x + p.w)) + pad;
    const y0 = Math.min(...ps.map((p) => p.y)) - pad;
    const y1 = Math.max(...ps.map((p) => p.y + p.h)) + pad;
    this.outline(this.active, ps[0]!, x0, y0, x1, y1, 0);
  }

  /** Sets `line` to the rectangle (x0, y0)–(x1, y1) of p's layer, lifted by dz. */
  private outline(line: THREE.LineSegments, p: Placed, x0: number, y0: number, x1: number, y1: number, dz: number): void {
    const c = [this.world(p, x0, y0), this.world(p, x1, y0), this.world(p, x1, y1), this.world(p, x0, y1)].map((v) => v.setZ(v.z + dz));
    const pts: number[] = [];
    for (let i = 0; i < 4; i++) pts.push(...c[i]!.toArray(), ...c[(i + 1) % 4]!.toArray());
    line.geometry.setAttribute('position', new THREE.Float32BufferAttribute(pts, 3));
  }

  /** World position of a placed rect's corner (x right, y up, z out of the stack). */
  private world(p: Placed, x: number, y: number): THREE.Vector3 {
    return new THREE.Vector3(x, -y, p.layer * LAYER_GAP);
  }

  setModel(layout: StackLayout): void {
    this.clear();
    this.layout = layout;
    this.activeLayer = null;
    this.active.visible = false;
    const outline: number[] = [];
    for (const p of layout.placed) {
      this.placedById.set(p.region.id, p);
      const fill = new THREE.Mesh(
        this.quad,
        new THREE.MeshBasicMaterial({ color: 0x39404f, transparent: true, opacity: 0.35, side: THREE.DoubleSide, depthWrite: false }),
      );
      fill.position.copy(this.world(p, p.x + p.w / 2, p.y + p.h / 2));
      fill.scale.set(p.w, p.h, 1);
      fill.userData.regionId = p.region.id;
      // Transparent objects draw after opaque ones, sorted by renderOrder first: fills (1)
      // before heat (2), so the grey never veils a tensor's values.
      fill.renderOrder = 1;
      this.picks.push(fill);
      this.group.add(fill);
      const c = [this.world(p, p.x, p.y), this.world(p, p.x + p.w, p.y), this.world(p, p.x + p.w, p.y + p.h), this.world(p, p.x, p.y + p.h)];
      for (let i = 0; i < 4; i++) outline.push(...c[i]!.toArray(), ...c[(i + 1) % 4]!.toArray());
    }
    const og = new THREE.BufferGeometry();
    og.setAttribute('position', new THREE.Float32BufferAttribute(outline, 3));
    const lines = new THREE.LineSegments(og, new THREE.LineBasicMaterial({ color: KIND_COLORS.weights, transparent: true, opacity: 0.6 }));
    this.group.add(lines);
    this.frameAll();
    if (this.selectedId) this.setSelection(this.selectedId);
  }

  /** The top cells whose heat covers each tensor. */
  setTopCells(cells: MapCellInfo[]): void {
    this.topCells = new Map(cells.map((c) => [c.regionId, c]));
  }

  /** Tensors the last applyTextures drew in their own rows × columns (the rest in stored byte order). */
  shapedCount = 0;

  /**
   * Puts cached heat on the tensors that have it; returns how many are textured. `shaped` gives a
   * tensor's shape and its statistics texture (ShapeLayer.shapedHeat): such a tensor is drawn as
   * its columns × rows from the top-left of its room, like the 2D view, not as its stored tiles.
   */
  applyTextures(
    cache: TextureCache,
    regionsById: Map<string, MapRegionInfo>,
    colormap: ColormapChoice,
    range: RangeChoice,
    shaped: (r: MapRegionInfo) => { shape: TensorShape; texture: THREE.Texture } | null = () => null,
  ): number {
    this.shapedCount = 0;
    let n = 0;
    let sharedLo = Infinity;
    let sharedHi = -Infinity;
    const entries = [];
    for (const [regionId, c] of this.topCells) {
      const e = cache.get(cellKey(c));
      const p = this.placedById.get(regionId);
      if (!e || !p) continue;
      cache.touch(e);
      const [lo, hi] = rangeOf(e, regionsById);
      sharedLo = Math.min(sharedLo, lo);
      sharedHi = Math.max(sharedHi, hi);
      entries.push({ e, p, lo, hi });
    }
    for (const { e, p, lo, hi } of entries) {
      let m = this.heatMeshes.get(p.region.id);
      if (!m) {
        m = new THREE.Mesh(this.quad, heatMaterial(THREE.DoubleSide));
        m.material.transparent = true;
        m.renderOrder = 2;
        this.heatMeshes.set(p.region.id, m);
        this.group.add(m);
      }
      // In its shape when it has one (placed again each time: the shape's texture may come later).
      const sh = shaped(p.region);
      const tw = p.region.grid.tileWidth;
      const th = p.region.grid.tileHeight;
      const w = (sh ? sh.shape.width : e.heatRect.width) / tw;
      const h = (sh ? sh.shape.height : e.heatRect.height) / th;
      m.position.copy(this.world(p, p.x + w / 2, p.y + h / 2));
      m.position.z += 0.01;
      m.scale.set(w, h, 1);
      m.material.uniforms.heat.value = sh ? sh.texture : e.texture;
      if (sh) this.shapedCount++;
      setScale(m.material, range === 'shared' ? scaleFor(sharedLo, sharedHi, colormap) : scaleFor(lo, hi, colormap));
      n++;
    }
    return n;
  }

  setSelection(regionId: string | null): void {
    this.selectedId = regionId;
    const p = regionId ? this.placedById.get(regionId) : undefined;
    this.selection.visible = p !== undefined;
    if (!p) return;
    this.outline(this.selection, p, p.x, p.y, p.x + p.w, p.y + p.h, 0.02);
  }

  /** Screen position of a tensor's top-left corner (or its centre). */
  project(regionId: string, width: number, height: number, centre = false): { x: number; y: number } | null {
    const p = this.placedById.get(regionId);
    if (!p) return null;
    const v = (centre ? this.world(p, p.x + p.w / 2, p.y + p.h / 2) : this.world(p, p.x, p.y)).project(this.camera);
    if (v.z > 1) return null;
    return { x: ((v.x + 1) / 2) * width, y: ((1 - v.y) / 2) * height };
  }

  layerLabelSpot(layer: number, width: number, height: number): { x: number; y: number } | null {
    const v = new THREE.Vector3(-0.5, 0.5, layer * LAYER_GAP).project(this.camera);
    if (v.z > 1) return null;
    return { x: ((v.x + 1) / 2) * width, y: ((1 - v.y) / 2) * height };
  }

  /** The tensor under normalised device coordinates, if any. */
  pick(ndcX: number, ndcY: number): string | null {
    this.raycaster.setFromCamera(new THREE.Vector2(ndcX, ndcY), this.camera);
    const hit = this.raycaster.intersectObjects(this.picks, false)[0];
    return hit ? (hit.object.userData.regionId as string) : null;
  }

  regionRect(regionId: string): Rect | null {
    return this.placedById.get(regionId)?.region.rect ?? null;
  }

  frameAll(): void {
    const l = this.layout;
    if (!l) return;
    const depth = (l.layers - 1) * LAYER_GAP;
    const target = new THREE.Vector3(l.width / 2, -l.height / 2, depth / 2);
    const size = Math.max(l.width, l.height, depth);
    this.controls.target.copy(target);
    // From the left, above and in front, far enough for the bounding sphere to fit the view:
    // the layers run left to right (block 0 first) and each one's face is seen at an angle.
    const radius = 0.5 * Math.hypot(l.width, l.height, depth);
    const dist = radius / Math.sin(((this.camera.fov / 2) * Math.PI) / 180);
    this.camera.position.copy(target).addScaledVector(new THREE.Vector3(-0.85, 0.4, 0.55).normalize(), dist);
    this.camera.near = size / 1000;
    this.camera.far = size * 20 + dist * 2;
    this.camera.updateProjectionMatrix();
    this.controls.update();
  }

  setSize(width: number, height: number): void {
    this.camera.aspect = width / Math.max(1, height);
    this.camera.updateProjectionMatrix();
  }

  private clear(): void {
    for (const o of [...this.group.children]) {
      this.group.remove(o);
      if (o instanceof THREE.Mesh || o instanceof THREE.LineSegments) {
        if (o.geometry !== this.quad) o.geometry.dispose();
        (o.material as THREE.Material).dispose();
      }
    }
    this.picks.length = 0;
    this.heatMeshes.clear();
    this.placedById.clear();
  }

  dispose(): void {
    this.clear();
    this.controls.dispose();
    this.quad.dispose();
    for (const l of [this.selection, this.active]) {
      l.geometry.dispose();
      (l.material as THREE.Material).dispose();
    }
  }
}
