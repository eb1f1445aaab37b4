/** The Infinite Map, pure part: geometry, placement, LOD math, statistics, colormaps (specs/map.md). */
export * from './errors';
export * from './geometry';
export * from './regions';
export * from './placement';
export * from './lod';
export * from './stats';
export * from './colormap';
export * from './pyramid-core';
export { CODE_STATS_TYPES } from './pyramid-codes';
