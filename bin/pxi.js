#!/usr/bin/env node
// The pxi command runs the TypeScript sources through tsx, so the CLI needs no build step.
import { register } from 'tsx/esm/api';

register();
const { runProcess } = await import('../electron/cli/main.ts');
await runProcess();
