import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { newTestCanary } from '../../../test/support/engine-world.js';
import { LocalArmObservations } from './check-metrics.js';
import { TrafficRecorder } from './routing/builtin/recorder.js';

/** The canary `podinfo` in namespace `test`, routed as service `podinfo`. */
const canary = newTestCanary();

function world(start = Date.parse('2026-12-06T10:00:00Z')) {
  let now = start;
  const recorder = new TrafficRecorder({ registry: new Registry(), now: () => now });
  const record = (backend: 'primary' | 'canary', status: number, count = 1) => {
    for (let i = 0; i < count; i += 1)
      recorder.record({ namespace: 'test', service: 'podinfo', backend, status, durationSeconds: 0.02 });
  };
  return {
    recorder,
    record,
    now: () => now,
    advance: (ms: number) => (now += ms),
  };
}

describe('LocalArmObservations', () => {
  it("counts both arms from the analysis start, never before the canary's processes ran the revision", async () => {
    const clock = world();
    let canarySince: number | undefined;
    const observations = new LocalArmObservations({
      recorder: clock.recorder,
      canarySince: () => canarySince,
      usesNginx: () => false,
      now: clock.now,
    });
    const analysisStart = new Date(clock.now());
    clock.record('canary', 500, 7); // the previous revision's answers, same arm
    clock.advance(20_000);
    canarySince = clock.now();
    clock.record('canary', 200, 30);
    clock.record('canary', 503, 2);
    clock.record('primary', 200, 300);
    clock.record('primary', 500, 1);
    clock.advance(40_000);
    clock.record('canary', 200, 8);

    const traffic = await observations.observe(canary, analysisStart);
    expect(traffic.canary).toMatchObject({ requests: 40, errors: 2 });
    expect(traffic.canary.latencyBuckets['0.025']).toBe(40);
    expect(traffic.primary).toMatchObject({ requests: 301, errors: 1 });
    expect(traffic.from).toEqual(new Date(canarySince));
    expect(traffic.to).toEqual(new Date(clock.now()));

    // Without a later process start, the analysis start bounds the counts.
    canarySince = undefined;
    expect((await observations.observe(canary, analysisStart)).canary).toMatchObject({
      requests: 47,
      errors: 9,
    });
  });

  it('says where its counts start when the recorder no longer keeps the analysis start', async () => {
    const clock = world();
    const observations = new LocalArmObservations({
      recorder: clock.recorder,
      canarySince: () => undefined,
      usesNginx: () => false,
      now: clock.now,
      retentionMs: 60_000,
    });
    const analysisStart = new Date(clock.now());
    clock.advance(90_000);
    clock.record('canary', 200, 3);
    const traffic = await observations.observe(canary, analysisStart);
    expect(traffic.canary.requests).toBe(3);
    expect(traffic.from).toEqual(new Date(clock.now() - 60_000));
  });

  it('refuses, by name, a canary routed by nginx', async () => {
    const clock = world();
    const observations = new LocalArmObservations({
      recorder: clock.recorder,
      canarySince: () => undefined,
      usesNginx: () => true,
      now: clock.now,
    });
    await expect(observations.observe(canary, new Date(clock.now()))).rejects.toMatchObject({
      code: 'E_NO_ARM_OBSERVATIONS',
      message: expect.stringContaining('podinfo.test is routed by nginx'),
    });
  });
});
