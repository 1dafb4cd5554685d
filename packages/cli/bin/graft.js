#!/usr/bin/env node
// The `graft` command. Runs the compiled CLI (packages/cli/dist); `npm run build` at the repo root makes it.
import { main } from '../dist/main.js';

process.exitCode = await main(process.argv);
