/**
 * An overlay of map rectangles drawn as instances of one unit quad in the 2D scene: what the
 * weight-change, residency and lit-passage layers each draw. It rebuilds its instances only when
 * the layer says its rectangles changed (`invalidate`), the scene's origin moved (the 2D view
 * rebases its origin as the camera travels) or the scene is another one; otherwise `draw` is free,
 * so the layers can call it every frame.
 */
import * as THREE from 'three';
import { rectMatrix } from './rect-matrix';
import type { Rect } from '../../../shared/map/geometry';

export class RectOverlay {
  private readonly quad = new THREE.PlaneGeometry(1, 1);
  private mesh: THREE.InstancedMesh | null = null;
  private placed: { scene: THREE.Scene; x: number; y: number } | null = null;
  private dirty = false;

  /** `order`: the render order among the map's layers (the heat under it, hover and selection over). */
  constructor(
    private readonly material: THREE.Material,
    private readonly order: number,
  ) {}

  /** The rectangles changed: the next `draw` rebuilds. */
  invalidate(): void {
    this.dirty = true;
  }

  /** True when `draw(scene, origin, …)` would rebuild; layers drawing more than the quads (outlines) ask first. */
  stale(scene: THREE.Scene, origin: { x: number; y: number }): boolean {
    const p = this.placed;
    return this.dirty || !p || p.scene !== scene || p.x !== origin.x || p.y !== origin.y;
  }

  /**
   * Places `rects` (map px) in `scene` relative to `origin` (y up), coloured by `colorOf` when
   * given (else the material's colour). Returns whether it rebuilt.
   */
  draw(scene: THREE.Scene, origin: { x: number; y: number }, rects: readonly Pick<Rect, 'x' | 'y' | 'width' | 'height'>[], colorOf?: (i: number, c: THREE.Color) => THREE.Color): boolean {
    if (!this.stale(scene, origin)) return false;
    this.dirty = false;
    this.placed = { scene, x: origin.x, y: origin.y };
    this.clear();
    if (rects.length === 0) return true;
    const mesh = new THREE.InstancedMesh(this.quad, this.material, rects.length);
    mesh.renderOrder = this.order;
    mesh.frustumCulled = false;
    const m = new THREE.Matrix4();
    const c = new THREE.Color();
    rects.forEach((r, i) => {
      mesh.setMatrixAt(i, rectMatrix(m, r, origin));
      if (colorOf) mesh.setColorAt(i, colorOf(i, c));
    });
    mesh.instanceMatrix.needsUpdate = true;
    if (mesh.instanceColor) mesh.instanceColor.needsUpdate = true;
    scene.add(mesh);
    this.mesh = mesh;
    return true;
  }

  private clear(): void {
    this.mesh?.removeFromParent();
    this.mesh?.dispose();
    this.mesh = null;
  }

  dispose(): void {
    this.clear();
    this.quad.dispose();
    this.material.dispose();
  }
}
