/**
 * Every router's built-in checks, run by the real Prometheus provider against a real Prometheus
 * that scrapes series shaped like that router's metrics. The exporter serves a canary arm with a
 * known success rate and latency, and decoys (the primary, other namespaces, other reporters)
 * that would change both answers if a selector let them in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import { PrometheusBuiltinMetrics } from '../../src/metrics/builtin-metrics.js';
import { OBSERVERS, type Observer } from '../../src/metrics/builtin-queries.js';
import { NoValuesFoundError } from '../../src/metrics/errors.js';
import { PrometheusProvider } from '../../src/metrics/providers/prometheus.js';
import {
  EXPECTED_MEAN_MS,
  EXPECTED_P99_MS,
  EXPECTED_SUCCESS_RATE,
  durationIsMean,
  startMeshExporter,
  type MeshExporter,
} from '../support/mesh-exporter.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';

/** The --mesh-provider value that selects each observer. */
const MESH_PROVIDER: Readonly<Record<Observer, string>> = {
  istio: 'istio',
  linkerd: 'linkerd',
  nginx: 'nginx',
  http: 'kubernetes',
  appmesh: 'appmesh:v1beta2',
  contour: 'contour',
  gloo: 'gloo',
  kuma: 'kuma',
  knative: 'knative',
  traefik: 'traefik',
  skipper: 'skipper',
  apisix: 'apisix',
  osm: 'osm',
  crossover: 'smi:crossover',
  local: 'local',
};

function podinfo(namespace = 'test'): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: { interval: '1m', threshold: 5, maxWeight: 50, stepWeight: 10 },
    },
  };
}

let exporter: MeshExporter;
let prometheus: TestPrometheus;

let exporterStartedAt = 0;

beforeAll(async () => {
  exporterStartedAt = Date.now();
  exporter = await startMeshExporter();
  prometheus = await startPrometheus({ targets: [exporter.target], scrapeIntervalSeconds: 1 });
  // rate() needs two samples; a few more keep the answer away from the first scrape's edge.
  await prometheus.waitForScrapes(4);
});

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.close();
});

describe.each(OBSERVERS)('built-in checks for %s', (observer) => {
  const builtin = (): PrometheusBuiltinMetrics =>
    new PrometheusBuiltinMetrics({ metricsServer: prometheus.url, meshProvider: MESH_PROVIDER[observer] });

  it('request-success-rate is the canary arm’s share of non-failed requests', async () => {
    const value = await builtin().requestSuccessRate(podinfo(), '1m');
    expect(value).toBeCloseTo(EXPECTED_SUCCESS_RATE, 6);
  });

  it('request-duration is the canary arm’s latency in milliseconds', async () => {
    const value = await builtin().requestDurationMs(podinfo(), '1m');
    expect(value).toBeCloseTo(durationIsMean(observer) ? EXPECTED_MEAN_MS : EXPECTED_P99_MS, 6);
  });

  it("the sample size is the canary arm's requests in the window: 100 a second since the exporter started", async () => {
    // The window (1m) is longer than the data: the count covers the seconds Prometheus has seen,
    // extrapolated by at most about one scrape interval at each end.
    const count = await builtin().requestCount(podinfo(), '1m');
    const secondsOfData = (Date.now() - exporterStartedAt) / 1000;
    expect(count).toBeGreaterThanOrEqual(100);
    expect(count).toBeLessThanOrEqual(100 * (secondsOfData + 2));
  });

  it('a canary without traffic gives "no values found"', async () => {
    await expect(builtin().requestSuccessRate(podinfo('quiet'), '1m')).rejects.toBeInstanceOf(
      NoValuesFoundError,
    );
  });
});

describe('the Prometheus provider against the real server', () => {
  it('is online', async () => {
    expect(
      await new PrometheusProvider({ source: 'test', address: prometheus.url, interval: '1m' }).isOnline(),
    ).toBe(true);
  });

  it("reports Prometheus' parse error for a bad query", async () => {
    const provider = new PrometheusProvider({ source: 'test', address: prometheus.url, interval: '1m' });
    await expect(provider.queryValue('sum(rate(x[1m])')).rejects.toThrow(
      /answered HTTP 400: bad_data: .*parse error/,
    );
  });

  it('refuses a range query', async () => {
    const provider = new PrometheusProvider({ source: 'test', address: prometheus.url, interval: '1m' });
    await expect(provider.queryValue('up[1m]')).rejects.toThrow(/range \(matrix\)/);
  });
});
