/**
 * The built-in router's cost: throughput and p50/p99 latency through the proxy against a direct
 * connection to the same tiny upstream, same load, in one run, side by side.
 *
 * The upstream runs in a worker thread (its own event loop) and the load generator is `hey`
 * (Debian package, a separate process) when installed, else an undici keep-alive loop in
 * another worker thread; the router runs on the main thread as it would in `vireo local`.
 * Compare rows, not absolute values: all three share this machine's cores.
 *
 * `npm run bench` calls `benchProxy`; `npx tsx bench/proxy.ts` runs it alone. Other routers
 * (real nginx on the same split) join the table through `moreTargets`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { ProxyRouter } from '../src/platforms/local/router/proxy.js';
import { TrafficRecorder } from '../src/platforms/local/router/recorder.js';

export interface LoadFigures {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

export interface BenchTarget {
  readonly name: string;
  readonly url: string;
  close(): Promise<void>;
}

export interface ProxyBenchOptions {
  readonly requests?: number;
  readonly concurrency?: number;
  /** Canary share of the split under test (both arms are tiny upstreams). */
  readonly canaryWeight?: number;
  /** Further routers on the same upstreams and split, e.g. real nginx. */
  readonly moreTargets?: (
    upstreams: { primary: string; canary: string },
    canaryWeight: number,
  ) => Promise<BenchTarget[]>;
  readonly write?: (text: string) => void;
}

export interface ProxyBenchResult {
  readonly tool: 'hey' | 'undici';
  readonly rows: readonly { readonly name: string; readonly figures: LoadFigures }[];
}

/** Two servers answering `ok` with keep-alive, on their own thread. */
const UPSTREAM_CODE = `
const { createServer } = require('node:http');
const { parentPort } = require('node:worker_threads');
const ports = [];
const start = () => new Promise((resolve) => {
  const server = createServer((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
  server.keepAliveTimeout = 30000;
  server.listen(0, '127.0.0.1', () => resolve(server.address().port));
});
Promise.all([start(), start()]).then((ports) => parentPort.postMessage(ports));
`;

/** An undici keep-alive load loop on its own thread; answers latencies in milliseconds. */
const UNDICI_LOAD_CODE = (undiciPath: string) => `
const { Pool } = require(${JSON.stringify(undiciPath)});
const { parentPort, workerData } = require('node:worker_threads');
const { url, requests, concurrency } = workerData;
const pool = new Pool(url, { connections: concurrency });
const latencies = new Float64Array(requests);
let next = 0;
async function worker() {
  while (next < requests) {
    const index = next++;
    const started = performance.now();
    const response = await pool.request({ path: '/', method: 'GET' });
    await response.body.text();
    latencies[index] = performance.now() - started;
  }
}
const began = performance.now();
Promise.all(Array.from({ length: concurrency }, worker)).then(async () => {
  const seconds = (performance.now() - began) / 1000;
  await pool.close();
  parentPort.postMessage({ seconds, latencies });
});
`;

export async function benchProxy(options: ProxyBenchOptions = {}): Promise<ProxyBenchResult> {
  const requests = options.requests ?? 20_000;
  const concurrency = options.concurrency ?? 32;
  const canaryWeight = options.canaryWeight ?? 30;
  const write = options.write ?? ((text: string) => process.stdout.write(text));
  const tool = spawnSync('hey', ['-h']).error === undefined ? 'hey' : 'undici';

  const upstreamWorker = new Worker(UPSTREAM_CODE, { eval: true });
  try {
    const [primaryPort, canaryPort] = await new Promise<[number, number]>((resolve, reject) => {
      upstreamWorker.once('message', resolve);
      upstreamWorker.once('error', reject);
    });
    const upstreams = {
      primary: `http://127.0.0.1:${primaryPort}`,
      canary: `http://127.0.0.1:${canaryPort}`,
    };
    const recorder = new TrafficRecorder({ registry: new Registry() });
    const router = await ProxyRouter.start(
      {
        namespace: 'bench',
        service: 'tiny',
        listen: { host: '127.0.0.1', port: 0 },
        primary: [upstreams.primary],
        canary: [upstreams.canary],
        canaryWeight,
        mirror: false,
        match: [],
      },
      { recorder },
    );
    const targets: BenchTarget[] = [
      { name: 'direct to the upstream', url: upstreams.primary, close: () => Promise.resolve() },
      {
        name: `vireo built-in router (canary ${canaryWeight}%)`,
        url: router.url,
        close: () => router.close(),
      },
      ...((await options.moreTargets?.(upstreams, canaryWeight)) ?? []),
    ];
    try {
      const rows: { name: string; figures: LoadFigures }[] = [];
      for (const target of targets) {
        await load(tool, `${target.url}/`, Math.min(2_000, requests), concurrency); // warm-up
        rows.push({ name: target.name, figures: await load(tool, `${target.url}/`, requests, concurrency) });
      }
      write(table(rows, { tool, requests, concurrency }));
      return { tool, rows };
    } finally {
      for (const target of targets) await target.close();
    }
  } finally {
    await upstreamWorker.terminate();
  }
}

function load(
  tool: 'hey' | 'undici',
  url: string,
  requests: number,
  concurrency: number,
): Promise<LoadFigures> {
  return tool === 'hey'
    ? loadWithHey(url, requests, concurrency)
    : loadWithUndici(url, requests, concurrency);
}

/** hey runs as a separate process; spawn (never spawnSync) so the router keeps serving. */
function loadWithHey(url: string, requests: number, concurrency: number): Promise<LoadFigures> {
  return new Promise((resolve, reject) => {
    const child = spawn('hey', ['-n', String(requests), '-c', String(concurrency), url]);
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(output)?.[1];
      const p50 = /50%+ in ([\d.]+) secs/.exec(output)?.[1];
      const p99 = /99%+ in ([\d.]+) secs/.exec(output)?.[1];
      if (code !== 0 || rps === undefined || p50 === undefined || p99 === undefined) {
        reject(new Error(`hey failed (exit ${code}): ${output.slice(0, 500)}`));
        return;
      }
      resolve({ requestsPerSecond: Number(rps), p50Ms: Number(p50) * 1000, p99Ms: Number(p99) * 1000 });
    });
  });
}

function loadWithUndici(url: string, requests: number, concurrency: number): Promise<LoadFigures> {
  const undiciPath = createRequire(import.meta.url).resolve('undici');
  const worker = new Worker(UNDICI_LOAD_CODE(undiciPath), {
    eval: true,
    workerData: { url, requests, concurrency },
  });
  return new Promise<LoadFigures>((resolve, reject) => {
    worker.once('error', reject);
    worker.once('message', (result: { seconds: number; latencies: Float64Array }) => {
      const sorted = Array.from(result.latencies).sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
      resolve({ requestsPerSecond: requests / result.seconds, p50Ms: at(0.5), p99Ms: at(0.99) });
    });
  }).finally(() => void worker.terminate());
}

function table(
  rows: readonly { name: string; figures: LoadFigures }[],
  run: { tool: string; requests: number; concurrency: number },
): string {
  const direct = rows[0]!.figures;
  const lines = [
    `proxy bench: ${run.requests} requests, ${run.concurrency} concurrent keep-alive clients, load by ${run.tool}`,
    `  ${'target'.padEnd(44)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'added p50'.padStart(10)} ${'added p99'.padStart(10)}`,
  ];
  for (const { name, figures } of rows) {
    const added = (value: number) =>
      figures === direct ? '' : `${value >= 0 ? '+' : ''}${value.toFixed(2)}`;
    lines.push(
      `  ${name.padEnd(44)} ${figures.requestsPerSecond.toFixed(0).padStart(8)} ${figures.p50Ms.toFixed(2).padStart(8)} ${figures.p99Ms.toFixed(2).padStart(8)} ${added(figures.p50Ms - direct.p50Ms).padStart(10)} ${added(figures.p99Ms - direct.p99Ms).padStart(10)}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await benchProxy();
}
