import { Registry } from 'prom-client';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { newTestCanary } from '../../../../../test/support/engine-world.js';
import { cleanups, eventually, startUpstream } from '../../../../../test/support/router-upstreams.js';
import {
  DEFAULT_CHECK_REGISTRY,
  NoValuesFoundError,
  type MetricTemplates,
} from '../../../../engine/checks.js';
import { LocalBuiltinMetrics } from './builtin-metrics.js';
import { ProxyRouter } from './proxy.js';
import { TrafficRecorder } from './recorder.js';

const cleanup = cleanups();

function manualClock(start = 1_700_000_000_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

/** The canary `podinfo` in namespace `test`, targeting `podinfo`; analysis interval 30s. */
const canary = newTestCanary({ interval: '30s' });

const noTemplates: MetricTemplates = {
  get: () => Promise.reject(new Error('not used')),
  providerFor: () => Promise.reject(new Error('not used')),
  inlineProvider: () => Promise.reject(new Error('not used')),
};

describe('LocalBuiltinMetrics', () => {
  it('throws NoValuesFoundError saying the canary got no traffic in the window', async () => {
    const clock = manualClock();
    const recorder = new TrafficRecorder({ registry: new Registry(), now: clock.now });
    const metrics = new LocalBuiltinMetrics(recorder);
    recorder.record({
      namespace: 'test',
      service: 'podinfo',
      backend: 'primary',
      status: 200,
      durationSeconds: 0.1,
    });
    recorder.record({
      namespace: 'test',
      service: 'podinfo',
      backend: 'canary',
      status: 200,
      durationSeconds: 0.1,
    });
    clock.advance(120_000);

    const failure = metrics.requestSuccessRate(canary, '1m');
    await expect(failure).rejects.toBeInstanceOf(NoValuesFoundError);
    await expect(failure).rejects.toThrow(
      'the canary podinfo.test received no traffic through the local router in the last 1m',
    );
    await expect(metrics.requestDurationMs(canary, '1m')).rejects.toBeInstanceOf(NoValuesFoundError);
    // A five-minute window still sees it.
    await expect(metrics.requestSuccessRate(canary, '5m')).resolves.toBe(100);
  });

  it('answers the canary arm: success rate in %, p99 in milliseconds', async () => {
    const clock = manualClock();
    const recorder = new TrafficRecorder({ registry: new Registry(), now: clock.now });
    const metrics = new LocalBuiltinMetrics(recorder);
    const record = (backend: 'primary' | 'canary', status: number, durationSeconds: number) =>
      recorder.record({ namespace: 'test', service: 'podinfo', backend, status, durationSeconds });
    for (let i = 0; i < 95; i += 1) record('canary', 200, 0.04);
    for (let i = 0; i < 5; i += 1) record('canary', 503, 0.8);
    for (let i = 0; i < 10; i += 1) record('primary', 500, 0.001);

    await expect(metrics.requestSuccessRate(canary, '1m')).resolves.toBe(95);
    // rank 99 of 100 falls in (0.5, 1] holding 5 (cumulative 95 → 100): 0.5 + 0.5 × 4/5 = 0.9 s
    expect(await metrics.requestDurationMs(canary, '1m')).toBeCloseTo(900, 9);
    const observed = await metrics.observe(canary);
    expect(observed.canary).toMatchObject({ requests: 100, errors: 5 });
    expect(observed.primary).toMatchObject({ requests: 10, errors: 10 });
  });

  it('reads observations over the analysis interval unless told otherwise', async () => {
    const clock = manualClock();
    const recorder = new TrafficRecorder({ registry: new Registry(), now: clock.now });
    recorder.record({
      namespace: 'test',
      service: 'podinfo',
      backend: 'canary',
      status: 200,
      durationSeconds: 0.1,
    });
    clock.advance(45_000);
    expect((await new LocalBuiltinMetrics(recorder).observe(canary)).canary.requests).toBe(0);
    const wide = new LocalBuiltinMetrics(recorder, { observationWindow: () => '2m' });
    expect((await wide.observe(canary)).canary.requests).toBe(1);
  });

  it('rejects an interval that is not a positive Go duration', async () => {
    const metrics = new LocalBuiltinMetrics(new TrafficRecorder({ registry: new Registry() }));
    await expect(metrics.requestSuccessRate(canary, '1 minute')).rejects.toMatchObject({
      code: 'E_INVALID_INTERVAL',
      message: expect.stringContaining('write it like 1m or 30s'),
    });
  });

  it('feeds the engine check from real traffic: a canary failing 1 request in 4 halts the analysis', async () => {
    const primary = await startUpstream('primary');
    cleanup(() => primary.close());
    let served = 0;
    const faulty = await startUpstream('canary', (_req, res) => {
      served += 1;
      res.writeHead(served % 4 === 0 ? 500 : 200).end();
    });
    cleanup(() => faulty.close());
    const recorder = new TrafficRecorder({ registry: new Registry() });
    const router = await ProxyRouter.start(
      {
        namespace: 'test',
        service: 'podinfo',
        listen: { host: '127.0.0.1', port: 0 },
        primary: [primary.url],
        canary: [faulty.url],
        canaryWeight: 100,
        mirror: false,
        match: [],
      },
      { recorder },
    );
    cleanup(() => router.close());
    const pool = new Pool(router.url);
    cleanup(() => pool.close());
    for (let i = 0; i < 40; i += 1) await (await pool.request({ path: '/', method: 'GET' })).body.dump();
    await eventually(() => recorder.observe('test', 'podinfo', 60_000).canary.requests === 40);

    const checked = newTestCanary({
      interval: '30s',
      metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 }, interval: '1m' }],
    });
    const [check] = DEFAULT_CHECK_REGISTRY.checksFor(checked);
    const now = new Date();
    const outcome = await check!.evaluate({
      canary: checked,
      analysisStartedAt: now,
      iteration: 0,
      now,
      ports: { builtin: new LocalBuiltinMetrics(recorder), templates: noTemplates },
    });
    expect(outcome).toMatchObject({ verdict: 'fail', value: 75 });
    expect(outcome.message).toBe('Halt podinfo.test advancement success rate 75.00% < 99%');
  });
});
