import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { newTestCanary } from '../../platforms/kubernetes/routers/fixtures.test-helper.js';
import { armQueries, PrometheusArmObservations } from './prometheus-arms.js';

const canary = newTestCanary();

let server: Server | undefined;
afterEach(() => new Promise<void>((done) => (server ? server.close(() => done()) : done())));

/** A Prometheus query endpoint that answers every query with one sample and records what it was asked. */
async function recordingPrometheus(asked: URLSearchParams[]): Promise<string> {
  server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost');
    asked.push(url.searchParams);
    const byLe = url.searchParams.get('query')?.startsWith('sum by (le)') === true;
    const result = byLe ? [{ metric: { le: '+Inf' }, value: [0, '10'] }] : [{ metric: {}, value: [0, '10'] }];
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify({ status: 'success', data: { resultType: 'vector', result } }));
  });
  await new Promise<void>((listening) => server!.listen(0, '127.0.0.1', listening));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('PrometheusArmObservations', () => {
  it('evaluates every query of both arms at one instant, the end of the window', async () => {
    const asked: URLSearchParams[] = [];
    const to = new Date('2026-12-07T03:30:00.250Z');
    const observations = new PrometheusArmObservations({
      metricsServer: await recordingPrometheus(asked),
      meshProvider: 'istio',
      now: () => to,
    });
    const traffic = await observations.observe(canary, new Date(to.getTime() - 60_000));
    expect(asked).toHaveLength(6);
    expect(new Set(asked.map((params) => params.get('time')))).toEqual(new Set(['1796614200.250']));
    expect(traffic.to).toEqual(to);
    expect(traffic.canary.latencyBuckets['+Inf']).toBe(traffic.canary.requests);
  });

  it('selects the arm by its workload over the window it is given', () => {
    const [requests] = armQueries(canary, 'istio', 'canary', 10);
    expect(requests).toContain('[10s]');
    expect(requests).toContain('destination_workload="podinfo"');
  });
});
