#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/ (run `npm run build` first).
import { setTimeout } from 'node:timers';
import { runCli } from '../dist/cli/main.js';

const code = await runCli(process.argv);
process.exitCode = code;
// A finished command must not linger on an idle keep-alive socket or a library's timer; the
// timer is unref'd, so it only fires when something else still holds the event loop.
setTimeout(() => process.exit(code), 2_000).unref();
