/**
 * What the built-in router measured, served two ways:
 * - as Prometheus text (`vireo_router_requests_total`, `vireo_router_request_duration_seconds`)
 *   on a registry the caller owns, optionally from a separate admin listener, so a real
 *   Prometheus, Grafana or a MetricTemplate can read the same numbers;
 * - as windowed answers in process (success rate, latency quantile, per-arm observations) for
 *   the engine's built-in checks, with no Prometheus at all.
 *
 * Mirrored copies are counted as canary traffic (`backend="canary"`), as Istio's canary sidecar
 * counts the copies it receives, so a blue/green analysis under mirroring measures them; they
 * are also counted on their own in `vireo_router_mirrored_requests_total`.
 */
import { createServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { ArmObservations } from '../../../../engine/checks.js';
import { VireoError } from '../../../../shared/errors.js';
import type { Arm } from './routing.js';
import { histogramQuantile, SecondRing, windowSeconds, type WindowTotals } from './traffic-window.js';

/** 5 ms to 10 s: Prometheus' default buckets, the range of an HTTP service's answers. */
export const ROUTER_LATENCY_BUCKETS_SECONDS: readonly number[] = [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

/** Fifteen minutes of per-second history per series: longer than any sensible metric interval. */
export const DEFAULT_RETENTION_SECONDS = 900;

export interface ProxiedRequest {
  readonly namespace: string;
  readonly service: string;
  readonly backend: Arm;
  /** HTTP status the router answered (or the mirror copy got); 502/503 for the router's own. */
  readonly status: number;
  readonly durationSeconds: number;
  /** A copy sent by mirroring, whose answer was discarded. */
  readonly mirrored?: boolean;
  /**
   * Answered by replicas the route no longer has: the revision was replaced while the request
   * ran (docs/local/router.md "What the checks measure"). Counted in the exported series, left
   * out of the windows the built-in checks read, so a new revision is never judged by the last
   * answers of the one before it.
   */
  readonly retiredReplicas?: boolean;
}

export interface TrafficRecorderOptions {
  /** Where the Prometheus metrics live; owned by the caller (never prom-client's global one). */
  readonly registry: Registry;
  /** Epoch milliseconds; windows are read against it. */
  readonly now?: () => number;
  /** Seconds of history kept per series (default 900); longer windows are cut to this. */
  readonly retentionSeconds?: number;
}

export interface MetricsEndpoint {
  readonly url: string;
  readonly port: number;
  /** Stops the listener; idempotent. */
  close(): Promise<void>;
}

type Labels = 'namespace' | 'service' | 'backend';

/**
 * One (namespace, service, backend) series, resolved once: its window ring, its histogram labels,
 * and its request counts per status code not yet handed to prom-client. Counting a request is
 * then a few additions; prom-client's counters (which hash a label set per call) are brought up
 * to date only when read (their `collect` hook), so scrapes see every request.
 */
interface Series {
  readonly namespace: string;
  readonly service: string;
  readonly backend: Arm;
  readonly ring: SecondRing;
  /** Answers of replicas replaced while they ran: out of `ring`, still served (created on first use). */
  retired?: SecondRing;
  readonly durationLabels: Readonly<Record<Labels, string>>;
  /** Status code → requests counted since the last read of `vireo_router_requests_total`. */
  readonly pendingRequests: Map<number, number>;
  /** Status code → mirrored copies counted since the last read of the mirrored counter. */
  readonly pendingMirrored: Map<number, number>;
}

/** Records every proxied request; one recorder serves all the routers of a process. */
export class TrafficRecorder {
  private readonly registry: Registry;
  private readonly now: () => number;
  private readonly retentionSeconds: number;
  private readonly requests: Counter<Labels | 'code'>;
  private readonly durations: Histogram<Labels>;
  private readonly mirrored: Counter<'namespace' | 'service' | 'code'>;
  /** namespace → service → backend → series. */
  private readonly series = new Map<string, Map<string, Partial<Record<Arm, Series>>>>();

  constructor(options: TrafficRecorderOptions) {
    this.registry = options.registry;
    this.now = options.now ?? Date.now;
    this.retentionSeconds = options.retentionSeconds ?? DEFAULT_RETENTION_SECONDS;
    if (!Number.isInteger(this.retentionSeconds) || this.retentionSeconds < 1) {
      throw new VireoError('E_INVALID_OPTION', `retentionSeconds must be a positive whole number`);
    }
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'vireo_router_requests_total',
      help: 'Requests answered by the built-in router, by backend and status code.',
      labelNames: ['namespace', 'service', 'backend', 'code'],
      registers,
      collect: () => this.flushRequests(),
    });
    this.durations = new Histogram({
      name: 'vireo_router_request_duration_seconds',
      help: 'Time from receiving a request to the end of its answer, seconds.',
      labelNames: ['namespace', 'service', 'backend'],
      buckets: [...ROUTER_LATENCY_BUCKETS_SECONDS],
      registers,
    });
    this.mirrored = new Counter({
      name: 'vireo_router_mirrored_requests_total',
      help: 'Copies sent to the canary by mirroring (also counted with backend="canary").',
      labelNames: ['namespace', 'service', 'code'],
      registers,
      collect: () => this.flushMirrored(),
    });
  }

  /** Counts one request; never throws. */
  record(request: ProxiedRequest): void {
    const { status } = request;
    const duration = Number.isFinite(request.durationSeconds) ? Math.max(0, request.durationSeconds) : 0;
    const series = this.seriesOf(request.namespace, request.service, request.backend);
    series.pendingRequests.set(status, (series.pendingRequests.get(status) ?? 0) + 1);
    if (request.mirrored === true) {
      series.pendingMirrored.set(status, (series.pendingMirrored.get(status) ?? 0) + 1);
    }
    this.durations.observe(series.durationLabels, duration);
    const second = Math.floor(this.now() / 1000);
    if (request.retiredReplicas === true) {
      series.retired ??= new SecondRing(this.retentionSeconds, []);
      series.retired.add(second, isServerError(status), duration);
    } else {
      series.ring.add(second, isServerError(status), duration);
    }
  }

  /** Hands the requests counted since the last read to `vireo_router_requests_total`. */
  private flushRequests(): void {
    for (const series of this.allSeries()) {
      const { namespace, service, backend, pendingRequests } = series;
      for (const [status, count] of pendingRequests) {
        this.requests.inc({ namespace, service, backend, code: String(status) }, count);
      }
      pendingRequests.clear();
    }
  }

  /** Hands the mirrored copies counted since the last read to `vireo_router_mirrored_requests_total`. */
  private flushMirrored(): void {
    for (const series of this.allSeries()) {
      const { namespace, service, pendingMirrored } = series;
      for (const [status, count] of pendingMirrored) {
        this.mirrored.inc({ namespace, service, code: String(status) }, count);
      }
      pendingMirrored.clear();
    }
  }

  private *allSeries(): Generator<Series> {
    for (const services of this.series.values()) {
      for (const backends of services.values()) {
        if (backends.primary !== undefined) yield backends.primary;
        if (backends.canary !== undefined) yield backends.canary;
      }
    }
  }

  /** Prometheus text exposition of the whole registry. */
  metricsText(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** Percentage (0–100) of non-5xx answers in the window; undefined when there were none. */
  successRate(namespace: string, service: string, backend: Arm, windowMs: number): number | undefined {
    const totals = this.totals(namespace, service, backend, windowMs);
    if (totals.requests === 0) return undefined;
    return ((totals.requests - totals.errors) / totals.requests) * 100;
  }

  /** Latency quantile `q` (0–1) in seconds over the window, as histogram_quantile computes it. */
  latencyQuantile(
    namespace: string,
    service: string,
    backend: Arm,
    q: number,
    windowMs: number,
  ): number | undefined {
    if (!Number.isFinite(q) || q < 0 || q > 1) {
      throw new VireoError('E_INVALID_QUANTILE', `quantile must be between 0 and 1 (0.99 for p99), got ${q}`);
    }
    return histogramQuantile(q, this.totals(namespace, service, backend, windowMs).buckets);
  }

  /**
   * Answers per arm in the window, those of replicas replaced while they ran included (which the
   * checks' windows leave out): what `vireo local status` shows as served.
   */
  served(namespace: string, service: string, windowMs: number): { primary: number; canary: number } {
    const { from, to } = windowSeconds(this.now(), windowMs);
    const count = (backend: Arm): number => {
      const series = this.seriesOf(namespace, service, backend);
      return series.ring.totals(from, to).requests + (series.retired?.totals(from, to).requests ?? 0);
    };
    return { primary: count('primary'), canary: count('canary') };
  }

  /** Both arms' counts and cumulative latency histograms over the window. */
  observe(
    namespace: string,
    service: string,
    windowMs: number,
  ): { canary: ArmObservations; primary: ArmObservations } {
    return {
      canary: observations(this.totals(namespace, service, 'canary', windowMs)),
      primary: observations(this.totals(namespace, service, 'primary', windowMs)),
    };
  }

  /** Drops the windowed history and exported series of a service that is no longer routed. */
  async forget(namespace: string, service: string): Promise<void> {
    // Dropped first, so that reading the counters below flushes nothing back for this service.
    this.series.get(namespace)?.delete(service);
    for (const backend of ['primary', 'canary'] as const) {
      this.durations.remove({ namespace, service, backend });
    }
    await removeSeries(this.requests, namespace, service);
    await removeSeries(this.mirrored, namespace, service);
  }

  /**
   * Serves GET /metrics on its own listener (an admin port), so the routed services' own
   * /metrics paths stay theirs. Port 0 picks a free port.
   */
  async serve(listen: { readonly host: string; readonly port: number }): Promise<MetricsEndpoint> {
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
        return;
      }
      this.metricsText().then(
        (text) => res.writeHead(200, { 'content-type': this.contentType }).end(text),
        () => res.writeHead(500, { 'content-type': 'text/plain' }).end('metrics unavailable\n'),
      );
    });
    await listenOn(server, listen);
    // After listening, errors are transient (e.g. EMFILE on accept) and must not crash the process.
    server.on('error', () => undefined);
    const port = (server.address() as AddressInfo).port;
    let closing: Promise<void> | undefined;
    return {
      url: `http://${hostForUrl(listen.host)}:${port}/metrics`,
      port,
      close: () => {
        closing ??= new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        return closing;
      },
    };
  }

  private totals(namespace: string, service: string, backend: Arm, windowMs: number): WindowTotals {
    if (!Number.isFinite(windowMs) || windowMs <= 0) {
      throw new VireoError('E_INVALID_WINDOW', `the window must be a positive duration, got ${windowMs} ms`);
    }
    const { from, to } = windowSeconds(this.now(), windowMs);
    return this.seriesOf(namespace, service, backend).ring.totals(from, to);
  }

  private seriesOf(namespace: string, service: string, backend: Arm): Series {
    let services = this.series.get(namespace);
    if (services === undefined) {
      services = new Map();
      this.series.set(namespace, services);
    }
    let backends = services.get(service);
    if (backends === undefined) {
      backends = {};
      services.set(service, backends);
    }
    let series = backends[backend];
    if (series === undefined) {
      series = {
        namespace,
        service,
        backend,
        ring: new SecondRing(this.retentionSeconds, ROUTER_LATENCY_BUCKETS_SECONDS),
        durationLabels: { namespace, service, backend },
        pendingRequests: new Map(),
        pendingMirrored: new Map(),
      };
      backends[backend] = series;
    }
    return series;
  }
}

const isServerError = (status: number): boolean => status >= 500 && status <= 599;

function observations(totals: WindowTotals): ArmObservations {
  const latencyBuckets: Record<string, number> = {};
  for (const bucket of totals.buckets) {
    latencyBuckets[Number.isFinite(bucket.upperBound) ? String(bucket.upperBound) : '+Inf'] = bucket.count;
  }
  return { requests: totals.requests, errors: totals.errors, latencyBuckets };
}

/** prom-client removes a series by its full label set: find them among the current values. */
async function removeSeries<T extends string>(
  counter: Counter<T>,
  namespace: string,
  service: string,
): Promise<void> {
  const metric = await counter.get();
  for (const value of metric.values) {
    const labels: Readonly<Record<string, unknown>> = value.labels;
    if (labels.namespace === namespace && labels.service === service) counter.remove(value.labels);
  }
}

export function hostForUrl(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export function listenOn(
  server: Server,
  listen: { readonly host: string; readonly port: number },
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const failed = (cause: Error): void => {
      reject(
        new VireoError(
          'E_LISTEN',
          `cannot listen on ${hostForUrl(listen.host)}:${listen.port}: ${cause.message}` +
            ' (choose another port, or 0 for any free port)',
          { cause },
        ),
      );
    };
    server.once('error', failed);
    server.listen(listen.port, listen.host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}
