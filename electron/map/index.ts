/** The Infinite Map, Node part: the SQLite R*Tree index, the pyramid builder, the PNG renderer. */
export { MapIndex } from './map-index';
export { MAP_SCHEMA_VERSION } from './index-schema';
export { DEFAULT_QUERY_LIMIT, MAX_QUERY_LIMIT } from './map-types';
export type { CellQueryOptions, IndexedRegion, MapCell, MapModelSummary, PyramidState, QueryOptions, QueryResult, RegionPyramid } from './map-types';
export { buildPyramid } from './pyramid';
export type { BuildPyramidOptions, BuildPyramidResult, PyramidProgress, RangeReader } from './pyramid';
export { renderMapPng, MAP_COLORS } from './render-png';
export type { RangeMode, RenderMapOptions, RenderedMap, Rgb } from './render-png';
