/**
 * The seed-000 scenario on local mode, for `vireo demo`: V1 of a small web service starts and
 * serves; V2 is released with 30% HTTP 500s and slow answers and the analysis rolls it back with
 * an alert; V3 is released and promoted. Everything is real: processes, a proxy splitting live
 * traffic, measurements from that traffic, an alert POSTed to a webhook receiver.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AlertProvider } from '../../api/schema/alert-provider.js';
import type { Canary } from '../../api/schema/canary.js';
import { createSystemClock } from '../../loadtester/clock.js';
import { runLoad, type LoadReport } from '../../loadtester/load.js';
import { VireoError } from '../../shared/errors.js';
import type { LocalManifests, WorkloadManifest } from './manifest.js';
import { LOCAL_WORKLOAD_API_VERSION } from './manifest.js';
import { findFreePort } from '../../shared/free-port.js';
import { LocalRuntime, type LocalCanaryStatus, type LocalEvent } from './runtime.js';

export interface DemoOptions {
  /** The analysis interval as a Go duration; "10s" with `speed` 10 is the accelerated default. */
  readonly interval: string;
  readonly speed: number;
  /** The demo service's entry file (dist/platforms/local/demo-service-main.js). */
  readonly serviceEntry: string;
  readonly onEvent: (event: LocalEvent, status: LocalCanaryStatus | undefined) => void;
  readonly onStage: (stage: DemoStage) => void;
  /** Requests per second of the load (default 40). */
  readonly qps?: number;
  /** builtin (default): Vireo's proxy measures; nginx: real nginx routes, a real Prometheus measures. */
  readonly router?: 'builtin' | 'nginx';
  /** Where the state goes (default: a temporary directory removed at the end). */
  readonly stateDirectory?: string;
  /** Aborting stops the demo: every process it started is stopped before the promise settles. */
  readonly signal?: AbortSignal;
}

export interface DemoStage {
  readonly version: string;
  readonly description: string;
  readonly time: string;
}

export interface AlertReceived {
  readonly time: string;
  readonly body: unknown;
}

export interface DemoOutcome {
  readonly v2RolledBack: boolean;
  readonly v3Promoted: boolean;
  readonly alerts: readonly AlertReceived[];
  readonly stages: readonly (DemoStage & { readonly outcome: string; readonly seconds: number })[];
  readonly load: LoadReport | undefined;
  /** Requests the router served per backend (its recorder, or nginx's access log). */
  readonly served: Readonly<Record<string, number>>;
  readonly totalSeconds: number;
}

export class DemoError extends VireoError {
  constructor(message: string) {
    super('E_DEMO', message);
  }
}

/** The demo was stopped (Ctrl-C, SIGTERM) before it finished; nothing it started runs any more. */
export class DemoInterruptedError extends VireoError {
  constructor() {
    super('E_DEMO_INTERRUPTED', 'the demo was interrupted; every process it started has been stopped');
  }
}

const NAMESPACE = 'demo';
const NAME = 'web';
const KEY = `${NAME}.${NAMESPACE}`;

const VERSIONS = [
  { version: '1.0.0', env: { ERROR_RATE: '0', LATENCY: '5ms' }, description: 'V1 starts and serves' },
  {
    version: '2.0.0',
    env: { ERROR_RATE: '0.3', LATENCY: '600ms' },
    description: 'V2 is released: 30% HTTP 500s and 600 ms answers',
  },
  { version: '3.0.0', env: { ERROR_RATE: '0', LATENCY: '5ms' }, description: 'V3 is released: healthy' },
] as const;

function workload(
  entry: string,
  version: (typeof VERSIONS)[number],
  router: 'builtin' | 'nginx',
): WorkloadManifest {
  return {
    apiVersion: LOCAL_WORKLOAD_API_VERSION,
    kind: 'Workload',
    metadata: { name: NAME, namespace: NAMESPACE },
    spec: {
      command: process.execPath,
      args: [entry],
      env: { VERSION: version.version, MESSAGE: `web ${version.version}`, ...version.env },
      replicas: 2,
      readiness: { httpPath: '/readyz', periodMs: 100 },
      router,
    },
  };
}

function canary(port: number, interval: string): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: NAME, namespace: NAMESPACE },
    spec: {
      targetRef: { apiVersion: LOCAL_WORKLOAD_API_VERSION, kind: 'Workload', name: NAME },
      service: { port },
      analysis: {
        interval,
        threshold: 2,
        maxWeight: 60,
        stepWeight: 20,
        metrics: [
          // Shorter than the pause between V2's rollback and V3's first check: V3 is judged on its own answers.
          { name: 'request-success-rate', interval: '15s', thresholdRange: { min: 99 } },
          { name: 'request-duration', interval: '15s', thresholdRange: { max: 500 } },
        ],
        alerts: [{ name: 'on-call', severity: 'error', providerRef: { name: 'on-call' } }],
      },
    },
  };
}

function alertProvider(address: string): AlertProvider {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'AlertProvider',
    metadata: { name: 'on-call', namespace: NAMESPACE },
    spec: { type: 'generic', address },
  };
}

function manifests(
  entry: string,
  port: number,
  interval: string,
  receiver: string,
  index: number,
  router: 'builtin' | 'nginx',
): LocalManifests {
  const version = VERSIONS[index] ?? VERSIONS[0];
  return {
    canaries: [canary(port, interval)],
    workloads: [workload(entry, version, router)],
    metricTemplates: [],
    alertProviders: [alertProvider(receiver)],
    secrets: new Map(),
  };
}

/** A webhook receiver standing in for the on-call chat: it keeps every alert it gets. */
async function startAlertReceiver(alerts: AlertReceived[]): Promise<{ url: string; server: Server }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      let body: unknown = Buffer.concat(chunks).toString('utf8');
      try {
        body = JSON.parse(body as string);
      } catch {
        // keep the text
      }
      alerts.push({ time: new Date().toISOString(), body });
      response.writeHead(200, { 'content-type': 'application/json' }).end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/alerts`, server };
}

export async function runDemoScenario(options: DemoOptions): Promise<DemoOutcome> {
  const started = Date.now();
  const alerts: AlertReceived[] = [];
  const abortLoad = new AbortController();
  const receiver = await startAlertReceiver(alerts);
  // Stops the load at once on interruption; the finally below stops every process.
  options.signal?.addEventListener('abort', () => abortLoad.abort(), { once: true });
  const stateDirectory = options.stateDirectory ?? (await mkdtemp(join(tmpdir(), 'vireo-demo-')));
  const port = await findFreePort();
  let runtime: LocalRuntime | undefined;
  let loadRun: Promise<LoadReport> | undefined;
  let stopHey: (() => void) | undefined;
  const stages: (DemoStage & { outcome: string; seconds: number })[] = [];
  const statusOf = (): LocalCanaryStatus | undefined =>
    runtime?.status().find((entry) => entry.canary === KEY);
  // The phase of the last decision shown: a stage ends when the viewer has seen the decision that
  // ended it, not only when the status file says so (the engine writes the status first).
  let decidedPhase = '';
  const onEvent = (event: LocalEvent): void => {
    if (event.type === 'decision' && event.decision !== undefined) decidedPhase = event.decision.phase;
    options.onEvent(event, statusOf());
  };
  const checkInterrupted = (): void => {
    if (options.signal?.aborted === true) throw new DemoInterruptedError();
  };
  const waitForPhase = async (phases: readonly string[], limitSeconds: number): Promise<string> => {
    const deadline = Date.now() + limitSeconds * 1000;
    for (;;) {
      checkInterrupted();
      const phase = statusOf()?.phase ?? '';
      if (phases.includes(phase) && phases.includes(decidedPhase)) return phase;
      if (Date.now() > deadline) {
        throw new DemoError(
          `the canary did not reach ${phases.join(' or ')} within ${limitSeconds} s (phase: ${phase || 'none'})`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };
  // Generous: at realistic speed a step is the interval itself.
  const limitSeconds = Math.max(60, (options.speed > 0 ? 60 / options.speed : 60) * 10);

  const stage = async (index: number, until: readonly string[]): Promise<string> => {
    const version = VERSIONS[index] ?? VERSIONS[0];
    const begun = Date.now();
    const entry: DemoStage = {
      version: version.version,
      description: version.description,
      time: new Date().toISOString(),
    };
    options.onStage(entry);
    const next = manifests(
      options.serviceEntry,
      port,
      options.interval,
      receiver.url,
      index,
      options.router ?? 'builtin',
    );
    checkInterrupted();
    if (runtime === undefined) {
      runtime = await LocalRuntime.start(next, { stateDirectory, speed: options.speed, onEvent });
    } else {
      // The revision is seen at the next tick; waiting for phases that only the new run reaches.
      await runtime.apply(next);
      // The previous verdict is still the phase until the engine sees the new revision.
      await waitForPhase(['Progressing'], limitSeconds);
    }
    const phase = await waitForPhase(until, limitSeconds);
    stages.push({ ...entry, outcome: phase, seconds: (Date.now() - begun) / 1000 });
    return phase;
  };

  try {
    await stage(0, ['Initialized', 'Succeeded']);
    const url = runtime?.url(NAMESPACE, NAME);
    if (url === undefined) throw new DemoError('the router of web.demo is not listening');
    const qps = options.qps ?? 40;
    // With real nginx, real load too: hey (Debian) when installed, as the loadtester would run it.
    stopHey = options.router === 'nginx' ? startHey(url, qps) : undefined;
    // Eight workers: with four, V2's 600 ms answers could hold every worker and leave a 1.5 s
    // (accelerated) window without a single completed canary request, a "no values" halt.
    loadRun =
      stopHey === undefined
        ? runLoad(
            { url: new URL(url), method: 'GET', durationMs: 3_600_000, qps, concurrency: 8, headers: {} },
            { clock: createSystemClock(), signal: abortLoad.signal, requestTimeoutMs: 5_000 },
          )
        : undefined;
    checkInterrupted();
    const v2 = await stage(1, ['Failed', 'Succeeded']);
    const v3 = await stage(2, ['Failed', 'Succeeded']);
    abortLoad.abort();
    stopHey?.();
    const load = await loadRun;
    const served = { ...statusOf()?.served };
    // Alerts are sent without blocking the analysis: give the last one a moment to land.
    await new Promise((resolve) => setTimeout(resolve, 200));
    return {
      v2RolledBack: v2 === 'Failed',
      v3Promoted: v3 === 'Succeeded',
      alerts: [...alerts],
      stages,
      load,
      served,
      totalSeconds: (Date.now() - started) / 1000,
    };
  } finally {
    abortLoad.abort();
    stopHey?.();
    await loadRun?.catch(() => undefined);
    await runtime?.stop();
    await new Promise<void>((resolve) => receiver.server.close(() => resolve()));
    if (options.stateDirectory === undefined) await rm(stateDirectory, { recursive: true, force: true });
  }
}

/** Starts `hey` at `qps` against `url`, or returns undefined when it is not installed. */
function startHey(url: string, qps: number): (() => void) | undefined {
  if (spawnSync('hey', ['-h']).error !== undefined) return undefined;
  const workers = 4;
  const child = spawn(
    'hey',
    ['-z', '1h', '-c', String(workers), '-q', String(Math.max(1, Math.round(qps / workers))), `${url}/`],
    {
      stdio: 'ignore',
    },
  );
  return () => {
    if (child.exitCode === null) child.kill('SIGKILL');
  };
}
