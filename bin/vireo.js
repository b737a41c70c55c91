#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/ (run `npm run build` first).
import { runCli } from '../dist/cli/main.js';

process.exitCode = await runCli(process.argv);
