/**
 * The judge's per-arm PromQL (src/engine/judge/prometheus-arms.ts) against a real Prometheus
 * scraping series shaped like each router's own: the canary arm serves 100 req/s with 5% errors
 * and 90% of its answers within 100 ms; the primary (`<target>-primary`) 40 req/s with 50% errors,
 * all within 100 ms; other decoys (another namespace, another reporter or direction) would change
 * the answers if a selector let them in.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import { ARM_QUERIES, PrometheusArmObservations } from '../../src/engine/judge/prometheus-arms.js';
import type { QueryFamily } from '../../src/routers/traits.js';
import { startMeshExporter, type MeshExporter } from '../support/mesh-exporter.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';

const canary: Canary = {
  apiVersion: 'flagger.app/v1beta1',
  kind: 'Canary',
  metadata: { name: 'podinfo', namespace: 'test' },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    service: { port: 9898 },
    analysis: { interval: '1m', threshold: 5, maxWeight: 50, stepWeight: 10 },
  },
};

let exporter: MeshExporter;
let prometheus: TestPrometheus;

beforeAll(async () => {
  exporter = await startMeshExporter();
  prometheus = await startPrometheus({ targets: [exporter.target], scrapeIntervalSeconds: 1 });
  await prometheus.waitForScrapes(5);
}, 120_000);

afterAll(async () => {
  await prometheus?.stop();
  await exporter?.close();
});

describe.each(Object.keys(ARM_QUERIES) as QueryFamily[])('per-arm counts for %s', (family) => {
  it('counts each arm apart: requests, errors and the latency histogram', async () => {
    const observations = new PrometheusArmObservations({
      metricsServer: prometheus.url,
      meshProvider: family,
      now: () => new Date(),
    });
    const traffic = await observations.observe(canary, new Date(Date.now() - 30_000));
    const { canary: canaryArm, primary } = traffic;
    expect(canaryArm.requests).toBeGreaterThan(0);
    expect(canaryArm.errors / canaryArm.requests).toBeCloseTo(0.05, 2);
    expect(primary.errors / primary.requests).toBeCloseTo(0.5, 2);
    expect(canaryArm.requests / primary.requests).toBeCloseTo(2.5, 1);
    expect(canaryArm.latencyBuckets['0.1']! / canaryArm.requests).toBeCloseTo(0.9, 2);
    expect(primary.latencyBuckets['0.1']! / primary.requests).toBeCloseTo(1, 2);
    expect(canaryArm.latencyBuckets['+Inf']).toBe(canaryArm.requests);
  });
});

it('a router without per-arm series is refused, naming it', async () => {
  const observations = new PrometheusArmObservations({
    metricsServer: prometheus.url,
    meshProvider: 'nginx',
    now: () => new Date(),
  });
  await expect(observations.observe(canary, new Date(Date.now() - 30_000))).rejects.toThrow(
    /nginx router's metrics do not split by destination workload/,
  );
});
