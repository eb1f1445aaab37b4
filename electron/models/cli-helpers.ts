/**
 * Moved to electron/cli/storage-helpers.ts: the storage commands' helpers belong to the CLI layer.
 * TODO(issue 14 item 1): delete this re-export once cli/commands/import.ts and map.ts (being
 * changed by the import work) import electron/cli/storage-helpers.ts; the layering rule allows
 * exactly this back-edge until then (ALLOWED_BACK_EDGES in scripts/eslint/layering.js).
 */
export * from '../cli/storage-helpers';
