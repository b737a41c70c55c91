/**
 * The built-in router's cost: throughput and p50/p99 latency through the proxy against a direct
 * connection to the same tiny upstream, same load, in one run, side by side.
 *
 * Two passes. Saturation: `hey` (Debian package, a separate process) when installed, else an
 * undici keep-alive loop in a worker thread, as fast as the target answers: throughput and CPU
 * per request (latency there is mostly queueing). Fixed rate: fortio at rates well below
 * saturation, requests spread evenly in time (bench/fixed-rate.ts): the latency the router adds.
 * The upstreams run in a process of their own; the router runs on the main thread as it would in
 * `vireo local`. Compare rows, not absolute values: all of them share this machine's cores.
 *
 * `npm run bench` calls `benchProxy`; `npx tsx bench/proxy.ts` runs it alone. Other routers
 * (real nginx on the same split) join the table through `moreTargets`.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { Registry } from 'prom-client';
import {
  fortioBinary,
  loadAtFixedRate,
  medianFigures as medianFixedRateFigures,
  medianOf,
  type FixedRateFigures,
} from './fixed-rate.js';
import { processCpuSeconds } from './process-cpu.js';
import { ProxyRouter } from '../src/platforms/local/routing/builtin/proxy.js';
import { TrafficRecorder } from '../src/platforms/local/routing/builtin/recorder.js';

export interface LoadFigures {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /**
   * CPU time the serving process spent per request (user + system), microseconds: unlike
   * throughput, barely moved by other work on the machine.
   */
  readonly cpuMicrosPerRequest?: number | undefined;
}

export interface BenchTarget {
  readonly name: string;
  readonly url: string;
  /** Cumulative CPU seconds of the process(es) serving this target, when they can be read. */
  cpuSeconds?(): Promise<number>;
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
  /**
   * Saturation rounds; each round loads every target once, in a rotated order, so a burst of
   * load from elsewhere on the machine hits all targets alike (default 3).
   */
  readonly rounds?: number;
  /**
   * Requests per second, over all clients, of the fixed-rate pass (fortio): latency below
   * saturation, where the added p50/p99 is the router's own cost rather than queueing
   * (default 1 600 and 4 800: 50 and 150 per client). Empty: no fixed-rate pass.
   */
  readonly fixedRates?: readonly number[];
  /** Seconds per target per rate per round (default 4). */
  readonly fixedRateSeconds?: number;
}

export interface BenchRow {
  readonly name: string;
  /** Median of the rounds at saturation. */
  readonly figures: LoadFigures;
  readonly rounds: readonly LoadFigures[];
}

/** One target at one fixed rate: medians, and each round. */
export interface FixedRateRow {
  readonly name: string;
  readonly figures: FixedRateFigures;
  readonly rounds: readonly FixedRateFigures[];
}

export interface FixedRatePass {
  readonly perSecond: number;
  readonly rows: readonly FixedRateRow[];
}

export interface ProxyBenchResult {
  readonly tool: 'hey' | 'undici';
  readonly rows: readonly BenchRow[];
  /** Empty when fortio is not available. */
  readonly fixedRates: readonly FixedRatePass[];
}

/** Two servers answering `ok` with keep-alive, in a process of their own (its CPU is measured apart). */
const UPSTREAM_CODE = `
const { createServer } = require('node:http');
const start = () => new Promise((resolve) => {
  const server = createServer((req, res) => { req.resume(); req.on('end', () => res.end('ok')); });
  server.keepAliveTimeout = 30000;
  server.listen(0, '127.0.0.1', () => resolve(server.address().port));
});
Promise.all([start(), start()]).then((ports) => process.stdout.write(JSON.stringify(ports) + '\\n'));
// Gone with the bench, however it ends (Ctrl-C included): its end of stdin closes with it.
process.stdin.on('end', () => process.exit(0)).resume();
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

  const upstreamProcess = spawn(process.execPath, ['-e', UPSTREAM_CODE], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  try {
    const [primaryPort, canaryPort] = await new Promise<[number, number]>((resolve, reject) => {
      upstreamProcess.stdout.once('data', (chunk: Buffer) =>
        resolve(JSON.parse(chunk.toString('utf8')) as [number, number]),
      );
      upstreamProcess.once('error', reject);
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
      {
        name: 'direct to the upstream',
        url: upstreams.primary,
        cpuSeconds: () => processCpuSeconds(upstreamProcess.pid!),
        close: () => Promise.resolve(),
      },
      {
        name: `vireo built-in router (canary ${canaryWeight}%)`,
        url: router.url,
        // The router runs on this process's main thread; the upstreams and hey are elsewhere.
        cpuSeconds: () => {
          const usage = process.cpuUsage();
          return Promise.resolve((usage.user + usage.system) / 1e6);
        },
        close: () => router.close(),
      },
      ...((await options.moreTargets?.(upstreams, canaryWeight)) ?? []),
    ];
    // Ctrl-C (or a kill) mid-run still stops nginx, a daemon that would outlive the bench.
    const stopOnSignal = (signal: NodeJS.Signals) => {
      void Promise.allSettled(targets.map((target) => target.close())).finally(() => {
        upstreamProcess.kill();
        process.exit(signal === 'SIGINT' ? 130 : 143);
      });
    };
    process.once('SIGINT', stopOnSignal).once('SIGTERM', stopOnSignal);
    try {
      const rounds = Math.max(1, options.rounds ?? 3);
      const samples = targets.map(() => [] as LoadFigures[]);
      for (const target of targets) {
        await load(tool, `${target.url}/`, Math.min(2_000, requests), concurrency); // warm-up
      }
      for (let round = 0; round < rounds; round += 1) {
        for (let step = 0; step < targets.length; step += 1) {
          const index = (step + round) % targets.length;
          samples[index]!.push(await measured(targets[index]!, tool, requests, concurrency));
        }
      }
      const rows: BenchRow[] = targets.map((target, index) => ({
        name: target.name,
        figures: medianFigures(samples[index]!),
        rounds: samples[index]!,
      }));
      write(table(rows, { tool, requests, concurrency, rounds }));
      const fixedRates = await fixedRatePasses(targets, {
        rates: options.fixedRates ?? [1_600, 4_800],
        seconds: options.fixedRateSeconds ?? 4,
        concurrency,
        rounds,
        write,
      });
      if (fixedRates.length > 0) write(fixedRateTable(fixedRates, { concurrency, rounds }));
      return { tool, rows, fixedRates };
    } finally {
      process.off('SIGINT', stopOnSignal).off('SIGTERM', stopOnSignal);
      for (const target of targets) await target.close();
    }
  } finally {
    upstreamProcess.kill();
  }
}

/**
 * Each rate, each target, `rounds` times in a rotated order (as the saturation pass). Nothing
 * without fortio.
 */
async function fixedRatePasses(
  targets: readonly BenchTarget[],
  run: {
    rates: readonly number[];
    seconds: number;
    concurrency: number;
    rounds: number;
    write: (text: string) => void;
  },
): Promise<FixedRatePass[]> {
  if (run.rates.length === 0) return [];
  const fortio = fortioBinary(run.write);
  if (fortio === undefined) return [];
  const passes: FixedRatePass[] = [];
  for (const perSecond of run.rates) {
    const samples = targets.map(() => [] as FixedRateFigures[]);
    for (let round = 0; round < run.rounds; round += 1) {
      for (let step = 0; step < targets.length; step += 1) {
        const index = (step + round) % targets.length;
        samples[index]!.push(
          await loadAtFixedRate(fortio, `${targets[index]!.url}/`, perSecond, run.concurrency, run.seconds),
        );
      }
    }
    passes.push({
      perSecond,
      rows: targets.map((target, index) => ({
        name: target.name,
        figures: medianFixedRateFigures(samples[index]!),
        rounds: samples[index]!,
      })),
    });
  }
  return passes;
}

/** Saturation load on one target, with the CPU its serving process spent per request. */
async function measured(
  target: BenchTarget,
  tool: 'hey' | 'undici',
  requests: number,
  concurrency: number,
): Promise<LoadFigures> {
  const before = await target.cpuSeconds?.();
  const figures = await load(tool, `${target.url}/`, requests, concurrency);
  const after = await target.cpuSeconds?.();
  if (before === undefined || after === undefined) return figures;
  return { ...figures, cpuMicrosPerRequest: ((after - before) / requests) * 1e6 };
}

function medianFigures(samples: readonly LoadFigures[]): LoadFigures {
  const cpu = samples.flatMap((sample) =>
    sample.cpuMicrosPerRequest === undefined ? [] : [sample.cpuMicrosPerRequest],
  );
  return {
    requestsPerSecond: medianOf(samples.map((sample) => sample.requestsPerSecond)),
    p50Ms: medianOf(samples.map((sample) => sample.p50Ms)),
    p99Ms: medianOf(samples.map((sample) => sample.p99Ms)),
    cpuMicrosPerRequest: cpu.length === 0 ? undefined : medianOf(cpu),
  };
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
  rows: readonly BenchRow[],
  run: { tool: string; requests: number; concurrency: number; rounds: number },
): string {
  const direct = rows[0]!;
  const cells = (figures: LoadFigures, base: LoadFigures | undefined) => {
    const added = (value: number) =>
      base === undefined ? '' : `${value >= 0 ? '+' : ''}${value.toFixed(2)}`;
    const cpu = figures.cpuMicrosPerRequest === undefined ? '' : figures.cpuMicrosPerRequest.toFixed(0);
    return `${figures.requestsPerSecond.toFixed(0).padStart(8)} ${figures.p50Ms.toFixed(2).padStart(8)} ${figures.p99Ms.toFixed(2).padStart(8)} ${added(figures.p50Ms - (base?.p50Ms ?? 0)).padStart(10)} ${added(figures.p99Ms - (base?.p99Ms ?? 0)).padStart(10)} ${cpu.padStart(11)}`;
  };
  const header = `  ${'target'.padEnd(44)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'added p50'.padStart(10)} ${'added p99'.padStart(10)} ${'CPU µs/req'.padStart(11)}`;
  const lines = [
    `proxy bench: ${run.concurrency} concurrent keep-alive clients, load by ${run.tool}`,
    `saturation: ${run.requests} requests per target per round, ${run.rounds} rounds interleaved (medians);`,
    '  CPU µs/req: CPU time of the serving process per request (the upstream for the direct row);',
    '  latency here is mostly queueing (clients wait for each other): the fixed-rate pass measures what the router adds',
    header,
  ];
  for (const row of rows) {
    lines.push(`  ${row.name.padEnd(44)} ${cells(row.figures, row === direct ? undefined : direct.figures)}`);
  }
  const router = rows.find((row) => row.name.startsWith('vireo built-in router'));
  const nginx = rows.find((row) => row.name.startsWith('nginx'));
  if (router !== undefined && nginx !== undefined) {
    const ratios = router.rounds.map(
      (figures, round) => figures.requestsPerSecond / nginx.rounds[round]!.requestsPerSecond,
    );
    const sorted = [...ratios].sort((a, b) => a - b);
    const percent = (ratio: number) => `${(ratio * 100).toFixed(0)}%`;
    lines.push(
      `  built-in router / nginx throughput: ${percent(sorted[Math.floor(sorted.length / 2)]!)} (rounds: ${ratios.map(percent).join(', ')})`,
    );
    const routerCpu = router.figures.cpuMicrosPerRequest;
    const nginxCpu = nginx.figures.cpuMicrosPerRequest;
    if (routerCpu !== undefined && nginxCpu !== undefined) {
      lines.push(
        `  nginx CPU per request / built-in router CPU per request: ${percent(nginxCpu / routerCpu)} (the throughput ratio on an otherwise idle core)`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

/** A figure of `row` minus the same figure of `direct`, round by round (rounds share the machine's state). */
function addedPerRound(
  row: FixedRateRow,
  direct: FixedRateRow,
  pick: (figures: FixedRateFigures) => number,
): number[] {
  return row.rounds.map((round, index) => pick(round) - pick(direct.rounds[index]!));
}

function fixedRateTable(
  passes: readonly FixedRatePass[],
  run: { concurrency: number; rounds: number },
): string {
  const milliseconds = (value: number) => value.toFixed(2).padStart(8);
  const signed = (value: number) => `${value >= 0 ? '+' : ''}${value.toFixed(2)}`.padStart(10);
  const lines = [
    `fixed rate (fortio, ${run.concurrency} keep-alive connections, requests spread evenly in time; ${run.rounds} rounds interleaved, medians);`,
    "  added: the target's figure minus the direct row's in the same round, median of the rounds",
  ];
  for (const pass of passes) {
    const direct = pass.rows[0]!;
    lines.push(
      `  at ${pass.perSecond} requests/s (${(pass.perSecond / run.concurrency).toFixed(0)} per connection)`,
      `  ${'target'.padEnd(44)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p90 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'p99.9 ms'.padStart(8)} ${'added p50'.padStart(10)} ${'added p99'.padStart(10)}`,
    );
    for (const row of pass.rows) {
      const { figures } = row;
      const added = (pick: (figures: FixedRateFigures) => number) =>
        row === direct ? ''.padStart(10) : signed(medianOf(addedPerRound(row, direct, pick)));
      const shortfall = figures.achievedPerSecond < 0.95 * pass.perSecond ? ' (could not keep the rate)' : '';
      const failures = figures.failures > 0 ? ` (${figures.failures} answers not 200)` : '';
      lines.push(
        `  ${row.name.padEnd(44)} ${figures.achievedPerSecond.toFixed(0).padStart(8)} ${milliseconds(figures.p50Ms)} ${milliseconds(figures.p90Ms)} ${milliseconds(figures.p99Ms)} ${milliseconds(figures.p999Ms)} ${added((round) => round.p50Ms)} ${added((round) => round.p99Ms)}${shortfall}${failures}`,
      );
    }
    const router = pass.rows.find((row) => row.name.startsWith('vireo built-in router'));
    if (router !== undefined) {
      const perRound = addedPerRound(router, direct, (round) => round.p99Ms);
      lines.push(
        `  built-in router added p99 at ${pass.perSecond}/s: ${signed(medianOf(perRound)).trim()} ms (rounds: ${perRound.map((value) => signed(value).trim()).join(', ')})`,
      );
    }
  }
  return `${lines.join('\n')}\n`;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { nginxTarget } = await import('./nginx-target.js');
  const rounds = Number(process.env['VIREO_BENCH_ROUNDS'] ?? 3);
  await benchProxy({ moreTargets: nginxTarget, rounds });
}
