import { defineConfig } from 'vitest/config';

// Unit and integration tests run in plain Node. GPU tests (Dawn on Mesa lavapipe) run in
// separate forked processes, so a crash in the native binding is reported as a failure.
export default defineConfig({
  test: {
    include: ['tests/shared/**/*.test.ts', 'tests/node/**/*.test.ts', 'tests/gpu/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    // Test hosts start with an empty volume unless a test asks for the default model.
    env: { PXI_NO_DEFAULT_MODEL: '1' },
  },
});
