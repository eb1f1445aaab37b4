/**
 * Where a unit quad goes to cover a map rectangle in the 2D scene: every layer drawing rectangles
 * as instances (tints, lit passages, KV pages) places them the same way (world = map px relative
 * to `origin`, y up), so it is written once.
 */
import * as THREE from 'three';
import type { Rect } from '../../../shared/map/geometry';

/** Sets `m` to scale a unit quad to `r` and centre it on `r`; returns `m`. */
export function rectMatrix(m: THREE.Matrix4, r: Pick<Rect, 'x' | 'y' | 'width' | 'height'>, origin: { x: number; y: number }): THREE.Matrix4 {
  m.makeScale(r.width, r.height, 1);
  return m.setPosition(r.x + r.width / 2 - origin.x, -(r.y + r.height / 2 - origin.y), 0);
}
