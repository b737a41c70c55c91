import { request } from 'undici';
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { cleanups } from '../../../../../test/support/router-upstreams.js';
import { TrafficRecorder, type ProxiedRequest } from './recorder.js';

const cleanup = cleanups();

/** A clock the test moves by hand, in epoch milliseconds. */
function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function newRecorder(now: () => number = Date.now, retentionSeconds?: number) {
  return new TrafficRecorder({
    registry: new Registry(),
    now,
    ...(retentionSeconds === undefined ? {} : { retentionSeconds }),
  });
}

const canary = (status: number, durationSeconds: number): ProxiedRequest => ({
  namespace: 'test',
  service: 'podinfo',
  backend: 'canary',
  status,
  durationSeconds,
});

/** Prometheus text → { 'name{a="b",…}': value } with labels in their printed order. */
function parseExposition(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    samples.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return samples;
}

describe('TrafficRecorder exposition', () => {
  it('exports request counts by backend and code, and a latency histogram with le buckets', async () => {
    const recorder = newRecorder();
    for (let i = 0; i < 3; i += 1) recorder.record(canary(200, 0.02));
    recorder.record(canary(500, 0.3));
    recorder.record({ ...canary(200, 0.004), backend: 'primary' });

    const samples = parseExposition(await recorder.metricsText());
    const requests = (backend: string, code: string) =>
      samples.get(
        `vireo_router_requests_total{namespace="test",service="podinfo",backend="${backend}",code="${code}"}`,
      );
    expect(requests('canary', '200')).toBe(3);
    expect(requests('canary', '500')).toBe(1);
    expect(requests('primary', '200')).toBe(1);

    const bucket = (le: string) =>
      samples.get(
        `vireo_router_request_duration_seconds_bucket{le="${le}",namespace="test",service="podinfo",backend="canary"}`,
      );
    expect(bucket('0.005')).toBe(0);
    expect(bucket('0.025')).toBe(3);
    expect(bucket('0.25')).toBe(3);
    expect(bucket('0.5')).toBe(4);
    expect(bucket('10')).toBe(4);
    expect(bucket('+Inf')).toBe(4);
    const labels = 'namespace="test",service="podinfo",backend="canary"';
    expect(samples.get(`vireo_router_request_duration_seconds_count{${labels}}`)).toBe(4);
    expect(samples.get(`vireo_router_request_duration_seconds_sum{${labels}}`)).toBeCloseTo(0.36, 9);
  });

  it('counts mirrored copies as canary traffic and on their own counter', async () => {
    const recorder = newRecorder();
    recorder.record({ ...canary(200, 0.01), mirrored: true });
    const samples = parseExposition(await recorder.metricsText());
    expect(
      samples.get(
        'vireo_router_requests_total{namespace="test",service="podinfo",backend="canary",code="200"}',
      ),
    ).toBe(1);
    expect(
      samples.get('vireo_router_mirrored_requests_total{namespace="test",service="podinfo",code="200"}'),
    ).toBe(1);
  });

  it('counts every request exactly once across successive scrapes', async () => {
    const recorder = newRecorder();
    const key = 'vireo_router_requests_total{namespace="test",service="podinfo",backend="canary",code="200"}';
    const mirroredKey = 'vireo_router_mirrored_requests_total{namespace="test",service="podinfo",code="200"}';
    recorder.record({ ...canary(200, 0.01), mirrored: true });
    let samples = parseExposition(await recorder.metricsText());
    expect([samples.get(key), samples.get(mirroredKey)]).toEqual([1, 1]);
    samples = parseExposition(await recorder.metricsText());
    expect([samples.get(key), samples.get(mirroredKey)]).toEqual([1, 1]);
    recorder.record(canary(200, 0.01));
    recorder.record({ ...canary(200, 0.01), mirrored: true });
    samples = parseExposition(await recorder.metricsText());
    expect([samples.get(key), samples.get(mirroredKey)]).toEqual([3, 2]);
  });

  it('forgets a service and counts it afresh when it comes back', async () => {
    const recorder = newRecorder();
    recorder.record(canary(200, 0.01));
    await recorder.forget('test', 'podinfo');
    recorder.record(canary(200, 0.01));
    const samples = parseExposition(await recorder.metricsText());
    expect(
      samples.get(
        'vireo_router_requests_total{namespace="test",service="podinfo",backend="canary",code="200"}',
      ),
    ).toBe(1);
  });

  it('forgets a service: its series and windows are gone, others stay', async () => {
    const recorder = newRecorder();
    recorder.record(canary(200, 0.01));
    recorder.record({ ...canary(200, 0.01), service: 'other' });
    await recorder.forget('test', 'podinfo');
    const text = await recorder.metricsText();
    expect(text).not.toContain('service="podinfo"');
    expect(text).toContain('service="other"');
    expect(recorder.successRate('test', 'podinfo', 'canary', 60_000)).toBeUndefined();
  });

  it('serves /metrics on its own listener and nothing else', async () => {
    const recorder = newRecorder();
    recorder.record(canary(200, 0.01));
    const endpoint = await recorder.serve({ host: '127.0.0.1', port: 0 });
    cleanup(() => endpoint.close());
    const metrics = await request(endpoint.url);
    expect(metrics.statusCode).toBe(200);
    expect(metrics.headers['content-type']).toContain('text/plain');
    expect(await metrics.body.text()).toContain('vireo_router_requests_total{');
    const other = await request(endpoint.url.replace('/metrics', '/'));
    expect(other.statusCode).toBe(404);
    await other.body.dump();
    await endpoint.close();
    await endpoint.close();
  });

  it('refuses an admin port that is taken, saying what to do', async () => {
    const recorder = newRecorder();
    const first = await recorder.serve({ host: '127.0.0.1', port: 0 });
    cleanup(() => first.close());
    await expect(recorder.serve({ host: '127.0.0.1', port: first.port })).rejects.toMatchObject({
      code: 'E_LISTEN',
      message: expect.stringContaining('choose another port'),
    });
  });
});

describe('TrafficRecorder windows', () => {
  it('answers success rate and p99 over the window like Prometheus would (hand-computed)', () => {
    const clock = manualClock();
    const recorder = newRecorder(clock.now);
    // Two minutes ago: 50 errors that a one-minute window must not see.
    for (let i = 0; i < 50; i += 1) recorder.record(canary(503, 5));
    clock.advance(120_000);
    // Now: 90 fast successes (bucket le=0.025) and 10 slow errors (bucket le=0.5).
    for (let i = 0; i < 90; i += 1) recorder.record(canary(200, 0.02));
    clock.advance(10_000);
    for (let i = 0; i < 10; i += 1) recorder.record(canary(500, 0.3));

    expect(recorder.successRate('test', 'podinfo', 'canary', 60_000)).toBe(90);
    // rank = 0.99 × 100 = 99 falls in (0.25, 0.5] holding 10 (cumulative 90 → 100):
    // 0.25 + (0.5 − 0.25) × (99 − 90) / 10 = 0.475 s
    expect(recorder.latencyQuantile('test', 'podinfo', 'canary', 0.99, 60_000)).toBeCloseTo(0.475, 12);
    // p50: rank 50 in (0.01, 0.025] holding 90: 0.01 + 0.015 × 50/90
    expect(recorder.latencyQuantile('test', 'podinfo', 'canary', 0.5, 60_000)).toBeCloseTo(
      0.01 + 0.015 * (50 / 90),
      12,
    );
    // The five-minute window sees the old errors too: 90 / 150.
    expect(recorder.successRate('test', 'podinfo', 'canary', 300_000)).toBe(60);
  });

  it('answers undefined with no requests in the window, and per-arm observations', () => {
    const clock = manualClock();
    const recorder = newRecorder(clock.now);
    expect(recorder.successRate('test', 'podinfo', 'canary', 60_000)).toBeUndefined();
    expect(recorder.latencyQuantile('test', 'podinfo', 'canary', 0.99, 60_000)).toBeUndefined();
    recorder.record(canary(200, 0.007));
    recorder.record(canary(502, 12));
    recorder.record({ ...canary(200, 0.1), backend: 'primary' });
    const { canary: arm, primary } = recorder.observe('test', 'podinfo', 60_000);
    expect(arm.requests).toBe(2);
    expect(arm.errors).toBe(1);
    expect(arm.latencyBuckets).toMatchObject({ '0.005': 0, '0.01': 1, '10': 1, '+Inf': 2 });
    expect(Object.keys(arm.latencyBuckets)).toHaveLength(12);
    expect(primary).toMatchObject({ requests: 1, errors: 0 });
    expect(primary.latencyBuckets['0.1']).toBe(1);
    clock.advance(61_001);
    expect(recorder.observe('test', 'podinfo', 60_000).canary.requests).toBe(0);
  });

  it('keeps only the retention period, and cuts longer windows to it', () => {
    const clock = manualClock();
    const recorder = newRecorder(clock.now, 10);
    recorder.record(canary(500, 0.01));
    clock.advance(5_000);
    recorder.record(canary(200, 0.01));
    expect(recorder.successRate('test', 'podinfo', 'canary', 3_600_000)).toBe(50);
    clock.advance(8_000);
    // The error is 13 s old: outside a 10 s ring even for an hour-long question.
    expect(recorder.successRate('test', 'podinfo', 'canary', 3_600_000)).toBe(100);
  });

  it('rejects a quantile outside 0–1 and a window that is not positive', () => {
    const recorder = newRecorder();
    expect(() => recorder.latencyQuantile('test', 'podinfo', 'canary', 99, 60_000)).toThrow(
      /between 0 and 1/,
    );
    expect(() => recorder.successRate('test', 'podinfo', 'canary', 0)).toThrow(/positive duration/);
  });
});
