/**
 * Local mode's Prometheus, for services routed by real nginx: nginx keeps no per-upstream
 * metrics, so the built-in checks of those canaries read the workloads' own
 * `http_request_duration_seconds` histograms, scraped by Debian's `prometheus` running as a child
 * process in a directory of its own (config, data, pid), on a free loopback port.
 *
 * Each replica is one static target, labelled the way Kubernetes service discovery would label
 * its pod, so the `kubernetes` observer's queries (src/metrics/builtin-queries.ts, `http`) select
 * exactly the canary's replicas:
 *   canary replica  kubernetes_pod_name="<target>-<8 hex of its spec hash>-<index>"
 *   primary replica kubernetes_pod_name="<target>-primary-<8 hex>-<index>"
 * The query's `<target>-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)` matches the first and not the second (one
 * dash too many). A new revision gets new pod names, so its checks never see an earlier one's series.
 *
 * `setTargets` rewrites the config and asks for a reload (`POST /-/reload`, which needs
 * `--web.enable-lifecycle`); calls are serialised and an unchanged config is not reloaded.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { parseGoDuration } from '../../api/duration.js';
import type { Canary } from '../../api/schema/canary.js';
import type { BuiltinMetrics } from '../../engine/checks.js';
import { PrometheusBuiltinMetrics } from '../../metrics/builtin-metrics.js';
import { VireoError } from '../../shared/errors.js';
import { writeFileAtomically } from '../../shared/atomic-file.js';
import { findFreePort } from '../../shared/free-port.js';
import { silentLogger, type Logger } from '../../shared/logger.js';
import { exitOf, livePidFromFile, spawnOutcome, stopBySignals, stopProcess } from '../../shared/process.js';
import type { ReplicaStatus } from './supervisor.js';

/** Codes: E_PROMETHEUS_START, E_PROMETHEUS_RELOAD, E_PROMETHEUS_STOPPED. */
export class PrometheusProcessError extends VireoError {}

export interface ScrapeTarget {
  /** `host:port` of a replica; Prometheus scrapes `/metrics` there. */
  readonly address: string;
  readonly labels: Readonly<Record<string, string>>;
}

export interface PrometheusProcessOptions {
  /** Where prometheus.yml, prometheus.pid and data/ go; created when missing. */
  readonly directory: string;
  /** The prometheus executable (default `prometheus` on the PATH). */
  readonly binary?: string;
  readonly logger?: Logger;
  /** Scrape interval in seconds (default 1: canary windows are short in local mode). */
  readonly scrapeIntervalSeconds?: number;
  /** Until Prometheus answers `/-/ready` (default 30 s). */
  readonly startTimeoutMs?: number;
}

const POLL_INTERVAL_MS = 100;
const STOP_TIMEOUT_MS = 5_000;
const OUTPUT_LINES_KEPT = 20;

/** The scrape targets of one canary's replicas (primary and canary process sets). */
export function replicaScrapeTargets(input: {
  readonly namespace: string;
  readonly target: string;
  readonly canary: readonly ReplicaStatus[];
  readonly primary: readonly ReplicaStatus[];
}): ScrapeTarget[] {
  const targets = (replicas: readonly ReplicaStatus[], podPrefix: string): ScrapeTarget[] =>
    replicas
      // A replica without a process has nothing to scrape; one starting up soon will.
      .filter((replica) => replica.pid !== undefined)
      .map((replica) => ({
        address: new URL(replica.url).host,
        labels: {
          kubernetes_namespace: input.namespace,
          kubernetes_pod_name: `${podPrefix}-${replica.specHash.slice(0, 8)}-${replica.index}`,
        },
      }));
  return [...targets(input.canary, input.target), ...targets(input.primary, `${input.target}-primary`)];
}

/** prometheus.yml for `targets`: one job, one static config per target (its own labels). */
export function renderPrometheusConfig(
  targets: readonly ScrapeTarget[],
  scrapeIntervalSeconds: number,
): string {
  const interval = `${scrapeIntervalSeconds}s`;
  return stringify({
    global: { scrape_interval: interval, evaluation_interval: interval, scrape_timeout: interval },
    scrape_configs: [
      {
        job_name: 'vireo-local-workloads',
        static_configs: targets.map((target) => ({
          targets: [target.address],
          labels: { ...target.labels },
        })),
      },
    ],
  });
}

export class PrometheusProcess {
  private queue: Promise<void> = Promise.resolve();
  private config: string;
  private stopping = false;

  private constructor(
    private readonly child: ChildProcess,
    private readonly port: number,
    private readonly paths: { readonly config: string; readonly pid: string },
    private readonly scrapeIntervalSeconds: number,
    private readonly logger: Logger,
    initialConfig: string,
  ) {
    this.config = initialConfig;
  }

  /** Starts Prometheus with no targets; resolves once it answers `/-/ready`. */
  static async start(options: PrometheusProcessOptions): Promise<PrometheusProcess> {
    const binary = options.binary ?? 'prometheus';
    const logger = options.logger ?? silentLogger();
    const scrapeIntervalSeconds = options.scrapeIntervalSeconds ?? 1;
    const paths = {
      config: join(options.directory, 'prometheus.yml'),
      pid: join(options.directory, 'prometheus.pid'),
      data: join(options.directory, 'data'),
    };
    await mkdir(paths.data, { recursive: true });
    await stopStale(paths.pid, logger);
    const config = renderPrometheusConfig([], scrapeIntervalSeconds);
    await writeFile(paths.config, config);
    const port = await findFreePort('127.0.0.1');
    const child = spawn(
      binary,
      [
        `--config.file=${paths.config}`,
        `--storage.tsdb.path=${paths.data}`,
        `--storage.tsdb.retention.time=1d`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--web.enable-lifecycle',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    const output: string[] = [];
    child.stderr?.on('data', (chunk: Buffer) => {
      output.push(...chunk.toString().split('\n').filter(Boolean));
      output.splice(0, Math.max(0, output.length - OUTPUT_LINES_KEPT));
    });
    const spawned = await spawnOutcome(child);
    if (spawned !== undefined) {
      throw new PrometheusProcessError(
        'E_PROMETHEUS_START',
        `cannot start "${binary}": ${spawned.message}; install Prometheus (Debian: apt-get install prometheus) or use router: builtin`,
      );
    }
    await writeFile(paths.pid, `${child.pid ?? ''}\n`);
    const prometheus = new PrometheusProcess(child, port, paths, scrapeIntervalSeconds, logger, config);
    child.once('exit', (code, signal) => {
      if (!prometheus.stopping) logger.error({ code, signal, output: output.slice(-5) }, 'prometheus exited');
    });
    try {
      await prometheus.waitReady(Date.now() + (options.startTimeoutMs ?? 30_000), output);
    } catch (error) {
      await prometheus.stop();
      throw error;
    }
    logger.info({ pid: child.pid, url: prometheus.url }, 'prometheus started');
    return prometheus;
  }

  /** Base URL of the HTTP API, e.g. http://127.0.0.1:40123. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Scrapes exactly `targets` from the next scrape on. Serialised; no reload when nothing changed. */
  setTargets(targets: readonly ScrapeTarget[]): Promise<void> {
    const next = this.queue.then(() => this.reload(targets));
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** SIGTERM (Prometheus flushes and exits), SIGKILL after 5 s. Idempotent. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (!this.running) return;
    await stopBySignals(
      { signal: (signal) => this.child.kill(signal), alive: () => this.running, exited: exitOf(this.child) },
      [
        ['SIGTERM', STOP_TIMEOUT_MS],
        ['SIGKILL', STOP_TIMEOUT_MS],
      ],
    );
  }

  private async reload(targets: readonly ScrapeTarget[]): Promise<void> {
    const config = renderPrometheusConfig(targets, this.scrapeIntervalSeconds);
    if (config === this.config || this.stopping) return;
    // Written atomically so Prometheus never reads half a file.
    await writeFileAtomically(this.paths.config, config);
    const answer = await fetch(`${this.url}/-/reload`, { method: 'POST' }).catch((error: unknown) => error);
    if (!(answer instanceof Response) || !answer.ok) {
      const reason = answer instanceof Response ? await answer.text() : String(answer);
      throw new PrometheusProcessError(
        'E_PROMETHEUS_RELOAD',
        `prometheus did not reload its targets: ${reason}`,
      );
    }
    this.config = config;
    this.logger.debug({ targets: targets.length }, 'prometheus targets reloaded');
  }

  private async waitReady(deadline: number, output: readonly string[]): Promise<void> {
    for (;;) {
      if (!this.running)
        throw new PrometheusProcessError(
          'E_PROMETHEUS_START',
          `prometheus exited at start: ${output.slice(-3).join(' | ') || 'no output'}`,
        );
      const ready = await fetch(`${this.url}/-/ready`).then(
        (answer) => answer.ok,
        () => false,
      );
      if (ready) return;
      if (Date.now() > deadline)
        throw new PrometheusProcessError(
          'E_PROMETHEUS_START',
          `prometheus did not answer ${this.url}/-/ready in time: ${output.slice(-3).join(' | ') || 'no output'}`,
        );
      await new Promise((resolve) => setTimeout(resolve, POLL_INTERVAL_MS));
    }
  }
}

/** A Prometheus a crashed Vireo left running on this directory would hold its data lock. */
async function stopStale(pidFile: string, logger: Logger): Promise<void> {
  const pid = await livePidFromFile(pidFile, (commandLine) => commandLine.includes('prometheus'));
  if (pid === undefined) return;
  logger.warn({ pid }, 'stopping a prometheus left running for this directory');
  await stopProcess(pid, [['SIGTERM', STOP_TIMEOUT_MS]], { pollMs: POLL_INTERVAL_MS });
}

/**
 * A Prometheus started on first need (the first nginx-routed canary) and kept scraping the
 * replicas `targets()` lists. Concurrent `ensure()` calls start one process; after `stop()`
 * nothing starts or reloads it again.
 */
export class OnDemandPrometheus {
  private process: Promise<PrometheusProcess> | undefined;
  private stopped = false;

  constructor(
    private readonly options: PrometheusProcessOptions & { readonly targets: () => ScrapeTarget[] },
  ) {}

  /** Starts Prometheus unless it runs; resolves with its URL. */
  async ensure(): Promise<string> {
    if (this.stopped) throw new PrometheusProcessError('E_PROMETHEUS_STOPPED', 'local mode is stopping');
    this.process ??= PrometheusProcess.start(this.options);
    // A failed start is tried again on the next call rather than remembered forever.
    const started = await this.process.catch((error: unknown) => {
      this.process = undefined;
      throw error;
    });
    await started.setTargets(this.options.targets());
    return started.url;
  }

  /** Re-reads the targets (replicas changed); nothing when Prometheus has not been needed yet. */
  async refresh(): Promise<void> {
    if (this.stopped || this.process === undefined) return;
    const started = await this.process;
    await started.setTargets(this.options.targets());
  }

  get url(): Promise<string | undefined> {
    return (this.process ?? Promise.resolve(undefined)).then((started) => started?.url);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const started = await this.process?.catch(() => undefined);
    await started?.stop();
  }
}

/**
 * The built-in checks of nginx-routed canaries: Flagger's `kubernetes` (http) queries, sent to the
 * on-demand Prometheus. Prometheus measures real time, so an accelerated runtime (`speed` > 1)
 * divides the metric interval by `speed`, never below `minimumWindowSeconds` (enough scrapes for
 * rate() to have two samples with room to spare).
 */
export class PrometheusWorkloadMetrics implements BuiltinMetrics {
  constructor(
    private readonly options: {
      readonly prometheus: OnDemandPrometheus;
      readonly speed: number;
      readonly minimumWindowSeconds: number;
    },
  ) {}

  async requestSuccessRate(canary: Canary, interval: string): Promise<number> {
    return (await this.metrics()).requestSuccessRate(this.observed(canary), this.realWindow(interval));
  }

  async requestDurationMs(canary: Canary, interval: string): Promise<number> {
    return (await this.metrics()).requestDurationMs(this.observed(canary), this.realWindow(interval));
  }

  async requestCount(canary: Canary, interval: string): Promise<number> {
    return (await this.metrics()).requestCount(this.observed(canary), this.realWindow(interval));
  }

  private async metrics(): Promise<PrometheusBuiltinMetrics> {
    const url = await this.options.prometheus.ensure();
    return new PrometheusBuiltinMetrics({ meshProvider: 'kubernetes', metricsServer: url });
  }

  /** Local mode's router is the Workload's choice: a Kubernetes `spec.provider` must not pick other queries. */
  private observed(canary: Canary): Canary {
    const spec = { ...canary.spec };
    delete spec.provider;
    return { ...canary, spec };
  }

  realWindow(interval: string): string {
    const ms = parseGoDuration(interval) ?? 60_000;
    const seconds = Math.max(Math.ceil(ms / 1000 / this.options.speed), this.options.minimumWindowSeconds);
    return `${seconds}s`;
  }
}
