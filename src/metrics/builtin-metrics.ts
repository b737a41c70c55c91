/**
 * The engine's BuiltinMetrics port answered by Prometheus (docs/flagger-compatibility.md#41-built-in-checks): the router's query,
 * rendered for the canary, sent without credentials to the canary's `metricsServer` or the
 * controller's `--metrics-server`.
 */
import type { Canary } from '../api/schema/canary.js';
import type { BuiltinMetrics } from '../engine/checks.js';
import { formatKey, keyOf } from '../engine/ports.js';
import {
  observerFor,
  renderBuiltinQuery,
  renderRequestCountQuery,
  type BuiltinCheck,
} from './builtin-queries.js';
import type { ProviderDeps } from './provider.js';
import { PrometheusProvider } from './providers/prometheus.js';

/** Flagger's default `--metrics-server`. */
export const DEFAULT_METRICS_SERVER = 'http://prometheus:9090';

export interface PrometheusBuiltinMetricsOptions {
  /** `--metrics-server`; a canary's `spec.metricsServer` wins. */
  readonly metricsServer?: string;
  /** `--mesh-provider`: picks the router's queries with the canary's `spec.provider`. */
  readonly meshProvider: string;
  /**
   * The `{{ route }}` of a canary whose route the platform knows better than its spec: Knative's
   * queries select the latest created revision (docs/routers/knative.md). Undefined: the spec's.
   */
  readonly routeOf?: (canary: Canary) => Promise<string | undefined>;
  readonly deps?: ProviderDeps;
}

export class PrometheusBuiltinMetrics implements BuiltinMetrics {
  constructor(private readonly options: PrometheusBuiltinMetricsOptions) {}

  requestSuccessRate(canary: Canary, interval: string): Promise<number> {
    return this.run(canary, 'request-success-rate', interval);
  }

  requestDurationMs(canary: Canary, interval: string): Promise<number> {
    return this.run(canary, 'request-duration', interval);
  }

  /** The canary's requests over `interval`: the built-in checks' sample size. */
  async requestCount(canary: Canary, interval: string): Promise<number> {
    const route = await this.options.routeOf?.(canary);
    const server = canary.spec.metricsServer ?? this.options.metricsServer ?? DEFAULT_METRICS_SERVER;
    const query = renderRequestCountQuery(
      observerFor(canary, this.options.meshProvider),
      canary,
      interval,
      route,
    );
    const provider = new PrometheusProvider(
      { source: `request count of canary ${formatKey(keyOf(canary))}`, address: server, interval },
      this.options.deps,
    );
    return provider.queryValue(query);
  }

  /** Whether the canary's metrics server answers `vector(1)` with 1 (Flagger's IsOnline); throws saying why not. */
  isOnline(canary: Canary): Promise<boolean> {
    const server = canary.spec.metricsServer ?? this.options.metricsServer ?? DEFAULT_METRICS_SERVER;
    const provider = new PrometheusProvider(
      {
        source: `metrics server ${server} of canary ${formatKey(keyOf(canary))}`,
        address: server,
        interval: '1m',
      },
      this.options.deps,
    );
    return provider.isOnline();
  }

  /** The query a check would run, for `vireo metrics query --builtin` and decision logs. */
  queryFor(
    canary: Canary,
    check: BuiltinCheck,
    interval: string,
    route?: string,
  ): { server: string; query: string } {
    const observer = observerFor(canary, this.options.meshProvider);
    return {
      server: canary.spec.metricsServer ?? this.options.metricsServer ?? DEFAULT_METRICS_SERVER,
      query: renderBuiltinQuery(observer, check, canary, interval, route),
    };
  }

  private async run(canary: Canary, check: BuiltinCheck, interval: string): Promise<number> {
    const route = await this.options.routeOf?.(canary);
    const { server, query } = this.queryFor(canary, check, interval, route);
    const provider = new PrometheusProvider(
      { source: `built-in ${check} of canary ${formatKey(keyOf(canary))}`, address: server, interval },
      this.options.deps,
    );
    return provider.queryValue(query);
  }
}
