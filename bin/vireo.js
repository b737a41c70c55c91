#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/ (run `npm run build` first).
import { setTimeout } from 'node:timers';
import { setFlagsFromString } from 'node:v8';

// The controller's HTTP parser (undici's llhttp) is WebAssembly; V8 recompiles its hot functions
// with its optimising compiler a few seconds after the first requests, and that compilation
// alone raised the controller's peak resident memory by about 30 MiB, a quarter of it. Its baseline
// compiler is fast enough for a controller's few requests per tick (docs/controller.md "Memory").
// Not for other commands: the built-in router parses every proxied request.
if (process.argv[2] === 'controller') setFlagsFromString('--liftoff-only');

const { runCli } = await import('../dist/cli/main.js');
const code = await runCli(process.argv);
process.exitCode = code;
// A finished command must not linger on an idle keep-alive socket or a library's timer; the
// timer is unref'd, so it only fires when something else still holds the event loop.
setTimeout(() => process.exit(code), 2_000).unref();
