/**
 * The controller under load, on the real test control plane: 100, 1,000 and 5,000 canaries
 * (VIREO_BENCH_SIZES), first idle (Initialized, nothing changing), then all progressing at once
 * (a blue/green analysis with many iterations, so each tick writes its status). For each, over a
 * one-minute window:
 * - API requests per canary-tick, counted at the controller's client (watches excluded: they
 *   are long-lived streams, not per-tick work), and the GETs among them;
 * - CPU per canary-tick and per minute, from the controller's process_cpu_seconds_total;
 * - memory: the peak resident set of the whole run (VmHWM: it includes the start, when every
 *   canary is reconciled at once), the resident set and the JS heap in use at the end.
 * Each size runs on its own fresh cluster; analysis interval 10 s, Flagger's minimum. The sizes
 * end in one table, side by side, with Flagger's published figure as a reference row
 * (docs/controller.md "Memory").
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { KubeClient } from '../src/platforms/kubernetes/client.js';
import { RESOURCES } from '../src/platforms/kubernetes/resources.js';
import { canary, podinfoDeployment } from '../test/support/canary-fixtures.js';
import { startTestCluster } from '../test/support/cluster.js';
import { startControllerProcess, type ControllerProcess } from '../test/support/controller-process.js';

/** What the image's entrypoint passes to node (Dockerfile): the controller as users run it. */
const IMAGE_NODE_OPTIONS = '--max-semi-space-size=4';
import { adminClient, ensureNamespace, installCrds } from '../test/support/kube.js';

const WINDOW_MS = Number(process.env['VIREO_BENCH_WINDOW_MS'] ?? 60_000);
const NAMESPACE = 'bench';

interface Sample {
  readonly requests: number;
  readonly gets: number;
  readonly ticks: number;
  readonly cpuSeconds: number;
  readonly heapUsedBytes: number;
  readonly at: number;
  /** Requests by `verb resource` (watches excluded), to say which ones a tick spends. */
  readonly byKind: ReadonlyMap<string, number>;
}

async function sample(controller: ControllerProcess): Promise<Sample> {
  const text = await (await fetch(`http://127.0.0.1:${controller.port}/metrics`)).text();
  let requests = 0;
  let gets = 0;
  let ticks = 0;
  let cpuSeconds = 0;
  let heapUsedBytes = 0;
  const byKind = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line.startsWith('nodejs_heap_size_used_bytes ')) heapUsedBytes = Number(line.split(' ')[1]);
    const match = /^vireo_kube_requests_total\{verb="([^"]+)",resource="([^"]*)"\} (\S+)/.exec(line);
    if (match !== null && match[1] !== 'watch') {
      const count = Number(match[3]);
      requests += count;
      if (match[1] === 'get') gets += count;
      const kind = `${match[1]} ${match[2]}`;
      byKind.set(kind, (byKind.get(kind) ?? 0) + count);
    }
    if (line.startsWith('vireo_canary_ticks_total ')) ticks = Number(line.split(' ')[1]);
    if (line.startsWith('process_cpu_seconds_total ')) cpuSeconds = Number(line.split(' ')[1]);
  }
  return { requests, gets, ticks, cpuSeconds, heapUsedBytes, at: Date.now(), byKind };
}

/** VmHWM (the peak resident set) or VmRSS (the resident set now) of `pid`, in MiB. */
function rssMiB(pid: number, field: 'VmHWM' | 'VmRSS'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0);
  return kib / 1024;
}

async function countPhases(client: KubeClient): Promise<Map<string, number>> {
  const list = await client.list<{ metadata: { name: string }; status?: { phase?: string } }>(
    RESOURCES.canaries,
    NAMESPACE,
  );
  const phases = new Map<string, number>();
  for (const item of list.items) {
    const phase = item.status?.phase ?? '(none)';
    phases.set(phase, (phases.get(phase) ?? 0) + 1);
  }
  return phases;
}

async function waitForAll(
  client: KubeClient,
  count: number,
  phase: string,
  log: (text: string) => void,
): Promise<void> {
  // A first tick takes a few hundred milliseconds and at most 10 run at once on a start.
  const deadline = Date.now() + Math.max(20 * 60_000, count * 500);
  let lastLog = 0;
  for (;;) {
    const phases = await countPhases(client);
    if ((phases.get(phase) ?? 0) >= count) return;
    if (Date.now() - lastLog > 10_000) {
      log(`  waiting for ${count} ${phase}: ${JSON.stringify(Object.fromEntries(phases))}`);
      lastLog = Date.now();
    }
    if (Date.now() > deadline)
      throw new Error(`not all canaries reached ${phase}: ${JSON.stringify(Object.fromEntries(phases))}`);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}

async function inBatches<T>(
  items: readonly T[],
  size: number,
  work: (item: T) => Promise<unknown>,
): Promise<void> {
  for (let start = 0; start < items.length; start += size) {
    await Promise.all(items.slice(start, start + size).map(work));
  }
}

interface Figures {
  readonly cpuMsPerTick: number;
  readonly requestsPerTick: number;
  readonly getsPerTick: number;
  readonly ticksPerMinute: number;
  readonly cpuSecondsPerMinute: number;
  readonly peakRssMiB: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  /** Requests per tick by `verb resource`, largest first. */
  readonly perTickByKind: readonly (readonly [string, number])[];
}

async function measureWindow(controller: ControllerProcess, pid: number): Promise<Figures> {
  const before = await sample(controller);
  await new Promise((resolve) => setTimeout(resolve, WINDOW_MS));
  const after = await sample(controller);
  const ticks = Math.max(1, after.ticks - before.ticks);
  const minutes = (after.at - before.at) / 60_000;
  return {
    cpuMsPerTick: ((after.cpuSeconds - before.cpuSeconds) * 1000) / ticks,
    requestsPerTick: (after.requests - before.requests) / ticks,
    getsPerTick: (after.gets - before.gets) / ticks,
    ticksPerMinute: ticks / minutes,
    cpuSecondsPerMinute: (after.cpuSeconds - before.cpuSeconds) / minutes,
    peakRssMiB: rssMiB(pid, 'VmHWM'),
    rssMiB: rssMiB(pid, 'VmRSS'),
    heapUsedMiB: after.heapUsedBytes / 1024 / 1024,
    perTickByKind: [...after.byKind]
      .map(([kind, count]) => [kind, (count - (before.byKind.get(kind) ?? 0)) / ticks] as const)
      .filter(([, perTick]) => perTick > 0)
      .sort((a, b) => b[1] - a[1]),
  };
}

/** One size's figures for the side-by-side table. */
interface SizeResult {
  readonly size: number;
  readonly startSeconds: number;
  readonly idle: Figures;
  readonly progressing: Figures;
}

/** Flagger 1.44 beside Vireo at 100 canaries on one API server (issue 22): its peak resident set. */
const FLAGGER_PEAK_MB_AT_100 = 81;

export async function benchController(
  sizes: readonly number[] = [100, 1000, 5000],
  row: (name: string, value: string) => void,
  log: (text: string) => void = (text) => process.stdout.write(`${text}\n`),
): Promise<void> {
  const results: SizeResult[] = [];
  for (const size of sizes) {
    try {
      results.push(await benchSize(size, row, log));
    } catch (error) {
      // A size the machine cannot hold (or finish) is reported, and the other sizes still run.
      row(
        `controller, ${size} canaries`,
        `not measured: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
  for (const line of sideBySide(results)) log(line);
}

async function benchSize(
  size: number,
  row: (name: string, value: string) => void,
  log: (text: string) => void,
): Promise<SizeResult> {
  {
    // Room for a primary and a target pod per canary at kwok's 110 pods per node.
    const nodeCount = Math.ceil((size * 2) / 100) + 2;
    log(`  controller bench: ${size} canaries (fresh cluster, ${nodeCount} kwok nodes)`);
    const cluster = await startTestCluster({ nodeCount });
    const client = await adminClient(cluster);
    let controller: ControllerProcess | undefined;
    try {
      await installCrds(client);
      await ensureNamespace(client, NAMESPACE);
      const names = Array.from({ length: size }, (_, index) => `app-${String(index).padStart(4, '0')}`);
      await inBatches(names, 25, (name) =>
        client.create(RESOURCES.deployments, podinfoDeployment(NAMESPACE, { name, replicas: 1 })),
      );
      await inBatches(names, 25, (name) =>
        client.create(
          RESOURCES.canaries,
          canary({
            namespace: NAMESPACE,
            name,
            provider: 'kubernetes',
            analysis: { interval: '10s', threshold: 5, iterations: 10_000 },
          }),
        ),
      );
      // Node's options as the image's entrypoint sets them (Dockerfile); VIREO_BENCH_NODE_OPTIONS
      // compares others side by side ('' for Node's defaults).
      const nodeOptions = process.env['VIREO_BENCH_NODE_OPTIONS'] ?? IMAGE_NODE_OPTIONS;
      controller = await startControllerProcess(
        cluster.kubeconfigPath,
        [],
        { NODE_OPTIONS: nodeOptions },
        'warn',
      );
      const pid = await controllerPid(controller);
      const startedAt = Date.now();
      await waitForAll(client, size, 'Initialized', log);
      // The first reconcile of every canary at once is where the peak used to be (docs/controller.md "Memory").
      row(
        `controller, ${size} canaries initialising at once: memory`,
        `peak RSS ${rssMiB(pid, 'VmHWM').toFixed(0)} MiB, RSS once all are Initialized ${rssMiB(pid, 'VmRSS').toFixed(0)} MiB, in ${((Date.now() - startedAt) / 1000).toFixed(0)} s`,
      );
      const startSeconds = (Date.now() - startedAt) / 1000;
      const idle = await measureWindow(controller, pid);
      report(row, `${size} idle canaries`, idle);

      await inBatches(names, 25, (name) =>
        client.mergePatch(RESOURCES.deployments, NAMESPACE, name, {
          spec: { template: { metadata: { annotations: { 'bench/revision': '2' } } } },
        }),
      );
      await waitForAll(client, size, 'Progressing', log);
      const progressing = await measureWindow(controller, pid);
      report(row, `${size} progressing canaries`, progressing);
      return { size, startSeconds, idle, progressing };
    } finally {
      await controller?.stop('SIGTERM');
      await client.close();
      await cluster.stop();
    }
  }
}

async function controllerPid(controller: ControllerProcess): Promise<number> {
  const health = (await (
    await fetch(`http://127.0.0.1:${controller.port}/healthz`, { headers: { accept: 'application/json' } })
  ).json()) as { pid?: number };
  return Number(health.pid ?? 0);
}

function report(row: (name: string, value: string) => void, label: string, figures: Figures): void {
  row(
    `controller, ${label}: API requests per tick (GETs)`,
    `${figures.requestsPerTick.toFixed(2)} (${figures.getsPerTick.toFixed(2)}) over ${figures.ticksPerMinute.toFixed(0)} ticks/min`,
  );
  row(
    `controller, ${label}: requests per tick by verb and resource`,
    figures.perTickByKind.map(([kind, perTick]) => `${kind} ${perTick.toFixed(2)}`).join(', '),
  );
  row(
    `controller, ${label}: CPU`,
    `${figures.cpuMsPerTick.toFixed(2)} ms per canary-tick, ${figures.cpuSecondsPerMinute.toFixed(2)} s per minute`,
  );
  row(
    `controller, ${label}: memory`,
    `peak RSS ${figures.peakRssMiB.toFixed(0)} MiB, RSS at the end ${figures.rssMiB.toFixed(0)} MiB, JS heap used ${figures.heapUsedMiB.toFixed(0)} MiB`,
  );
}

/** The sizes side by side: memory beside API requests and CPU, and Flagger's published figure. */
function sideBySide(results: readonly SizeResult[]): string[] {
  const header = [
    'canaries',
    'peak RSS',
    'RSS idle / progressing',
    'JS heap used idle / progressing',
    'API requests per canary-tick (GETs), progressing',
    'CPU per canary-tick, progressing',
    'ticks per minute',
    'all Initialized after',
  ];
  const lines = [
    '',
    'controller, side by side (one run; peak RSS over the whole run, the start included):',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
  ];
  for (const { size, startSeconds, idle, progressing } of results) {
    lines.push(
      `| ${size} | ${progressing.peakRssMiB.toFixed(0)} MiB | ${idle.rssMiB.toFixed(0)} / ${progressing.rssMiB.toFixed(0)} MiB | ${idle.heapUsedMiB.toFixed(0)} / ${progressing.heapUsedMiB.toFixed(0)} MiB | ${progressing.requestsPerTick.toFixed(2)} (${progressing.getsPerTick.toFixed(2)}) | ${progressing.cpuMsPerTick.toFixed(2)} ms | ${progressing.ticksPerMinute.toFixed(0)} | ${startSeconds.toFixed(0)} s |`,
    );
  }
  const flaggerMiB = (FLAGGER_PEAK_MB_AT_100 * 1e6) / 2 ** 20;
  lines.push(
    `| Flagger 1.44, 100 (reference: issue 22's side-by-side run, not measured here) | ${FLAGGER_PEAK_MB_AT_100} MB = ${flaggerMiB.toFixed(0)} MiB (goal: at most 1.5 times, ${(1.5 * flaggerMiB).toFixed(0)} MiB) | | | Vireo's were 0.17 times Flagger's | Vireo's was 0.49 times Flagger's | | |`,
  );
  return lines;
}

// `npm run bench:controller` (or `tsx bench/controller.ts`): this part alone, sizes from
// VIREO_BENCH_SIZES (default 100,1000,5000).
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const sizes = (process.env['VIREO_BENCH_SIZES'] ?? '100,1000,5000').split(',').map(Number);
  await benchController(sizes, (name, value) => process.stdout.write(`${name}: ${value}\n`));
}
