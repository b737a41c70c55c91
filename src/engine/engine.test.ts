/**
 * The engine against an in-memory world (test/support/engine-world.ts): every transition of
 * docs/flagger-compatibility.md#22-phase-transitions, every strategy's sequence checked against `vireo simulate`, restarts and crashes
 * at every port call, webhooks, checks and explained decisions.
 */
import { describe, expect, it } from 'vitest';
import {
  CheckRegistry,
  DEFAULT_CHECK_REGISTRY,
  NoValuesFoundError,
  type ArmTraffic,
  type CheckContext,
  type TrafficObservations,
} from './checks.js';
import { simulateCanary } from '../simulate/timeline.js';
import { World, initializedWorld, newTestCanary, refused } from '../../test/support/engine-world.js';

/** Ticks until the phase is one of `phases` (or fails after `limit` ticks). */
async function runUntil(world: World, phases: string[], limit = 40): Promise<void> {
  for (let tick = 0; tick < limit; tick += 1) {
    await world.tick();
    if (phases.includes(world.phase)) return;
  }
  throw new Error(`still ${world.phase} after ${limit} ticks`);
}

describe('engine: transitions of docs/flagger-compatibility.md#22-phase-transitions', () => {
  it('initializes: primary created and ready, target scaled to zero, Initialized, alert', async () => {
    const world = new World(newTestCanary());
    await world.tick();
    expect(world.phase).toBe('Initialized');
    expect(world.primaryExists).toBe(true);
    expect(world.targetScaledToZero).toBe(true);
    expect(world.status).toMatchObject({
      lastAppliedSpec: 'rev-1',
      lastPromotedSpec: 'rev-1',
      canaryWeight: 0,
      failedChecks: 0,
    });
    expect(world.status.conditions).toEqual([
      expect.objectContaining({
        type: 'Promoted',
        status: 'True',
        reason: 'Initialized',
        message: 'Deployment initialization completed.',
      }),
    ]);
    expect(world.messages()).toEqual([
      'all the metrics providers are available!',
      'Initialization done! podinfo.test',
    ]);
    expect(world.alerts).toEqual([
      { severity: 'info', text: 'New Deployment detected, initialization completed.' },
    ]);
  });

  it('waits for a primary that is not ready yet, and rolls back one that never will be', async () => {
    const world = new World(newTestCanary());
    world.primaryReady = {
      ready: false,
      retriable: true,
      reason: 'waiting for rollout to finish: 0 of 1 updated replicas are available',
    };
    await world.tick();
    expect(world.phase).toBe('');
    expect(world.events.at(-1)).toEqual({
      type: 'Warning',
      message: expect.stringContaining('waiting for rollout'),
    });
    world.primaryReady = { ready: true };
    await world.tick();
    expect(world.phase).toBe('Initialized');
  });

  it('a primary that never gets ready fails the canary with the progress-deadline alert', async () => {
    const world = new World(newTestCanary());
    world.primaryReady = {
      ready: false,
      retriable: false,
      reason: 'cannot start command "pyhton3"; progress deadline of 60s exceeded',
    };
    await world.tick();
    expect(world.phase).toBe('Failed');
    expect(world.alerts).toContainEqual({
      severity: 'error',
      text: 'Progress deadline exceeded cannot start command "pyhton3"; progress deadline of 60s exceeded',
    });
  });

  it('Initialized + new revision: confirm-rollout passes → Progressing, target scaled up, counters zeroed', async () => {
    const world = await initializedWorld(
      newTestCanary({ webhooks: [{ name: 'gate', type: 'confirm-rollout', url: 'http://gate/' }] }),
    );
    await world.tick();
    expect(world.phase).toBe('Progressing');
    expect(world.targetScaledToZero).toBe(false);
    expect(world.status).toMatchObject({
      lastAppliedSpec: 'rev-2',
      canaryWeight: 0,
      failedChecks: 0,
      iterations: 0,
    });
    expect(world.hookCalls.map((call) => [call.hook.name, call.payload.phase])).toEqual([
      ['gate', 'Initialized'],
    ]);
    expect(world.messages()).toEqual([
      'Confirm-rollout check gate passed',
      'New revision detected! Scaling up podinfo.test',
    ]);
    expect(world.alerts).toEqual([
      { severity: 'info', text: 'New revision detected, progressing canary analysis.' },
    ]);
  });

  it('confirm-rollout refuses → Waiting with one alert, asked again each tick, then Progressing', async () => {
    const world = await initializedWorld(
      newTestCanary({ webhooks: [{ name: 'gate', type: 'confirm-rollout', url: 'http://gate/' }] }),
    );
    world.hookAnswers.set('gate', refused());
    await world.tick();
    await world.tick();
    expect(world.phase).toBe('Waiting');
    expect(world.alerts).toEqual([{ severity: 'warn', text: 'Canary is waiting for approval.' }]);
    expect(world.hookCalls.map((call) => call.payload.phase)).toEqual(['Initialized', 'Waiting']);
    expect(world.targetScaledToZero).toBe(true);
    world.hookAnswers.delete('gate');
    await world.tick();
    expect(world.phase).toBe('Progressing');
  });

  it("muteAlert silences a gate's alert", async () => {
    const world = await initializedWorld(
      newTestCanary({
        webhooks: [{ name: 'gate', type: 'confirm-rollout', url: 'http://gate/', muteAlert: true }],
      }),
    );
    world.hookAnswers.set('gate', refused());
    await world.tick();
    expect(world.phase).toBe('Waiting');
    expect(world.alerts).toEqual([]);
  });

  it('Succeeded and Failed + new revision → Progressing; the same failed revision or a revert → nothing', async () => {
    const world = await initializedWorld(
      newTestCanary({ metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }] }),
    );
    world.successRate = 50;
    await runUntil(world, ['Failed']);
    expect(world.status.lastAppliedSpec).toBe('rev-2');
    const ticksBefore = world.calls.length;
    await world.tick();
    expect(world.phase).toBe('Failed');
    expect(world.calls.slice(ticksBefore)).not.toContain('setRoutes');
    world.release('rev-1');
    await world.tick();
    expect(world.phase).toBe('Failed');
    world.release('rev-3');
    world.successRate = 100;
    await world.tick();
    expect(world.phase).toBe('Progressing');
    await runUntil(world, ['Succeeded']);
    world.release('rev-4');
    await world.tick();
    expect(world.phase).toBe('Progressing');
  });

  it('at maxWeight: confirm-promotion refuses → WaitingPromotion (checks keep running), then Promoting', async () => {
    const world = await initializedWorld(
      newTestCanary({
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
        webhooks: [{ name: 'approve', type: 'confirm-promotion', url: 'http://gate/' }],
      }),
    );
    world.hookAnswers.set('approve', refused());
    await runUntil(world, ['WaitingPromotion']);
    expect(world.routes).toEqual({ primaryWeight: 40, canaryWeight: 60, mirrored: false });
    expect(world.status.canaryWeight).toBe(0);
    expect(world.alerts.at(-1)).toEqual({
      severity: 'warn',
      text: 'Canary promotion is waiting for approval.',
    });
    const queries = world.calls.filter((call) => call === 'successRate').length;
    await world.tick();
    expect(world.phase).toBe('WaitingPromotion');
    expect(world.calls.filter((call) => call === 'successRate').length).toBe(queries + 1);
    expect(world.alerts.filter((alert) => alert.text.includes('promotion is waiting'))).toHaveLength(1);
    world.hookAnswers.delete('approve');
    await world.tick();
    expect(world.phase).toBe('Promoting');
    expect(world.promotions).toEqual(['rev-2']);
  });

  it('at maxWeight: confirm-traffic-increase, then confirm-promotion; WaitingPromotion asks only the promotion gate again', async () => {
    const world = await initializedWorld(
      newTestCanary({
        webhooks: [
          { name: 'approve', type: 'confirm-promotion', url: 'http://gate/' },
          { name: 'more', type: 'confirm-traffic-increase', url: 'http://gate/' },
        ],
      }),
    );
    world.hookAnswers.set('approve', refused());
    await runUntil(world, ['WaitingPromotion']);
    const asked = () => world.hookCalls.map((call) => call.hook.name);
    // The tick that found the promotion gate closed asked the traffic increase first.
    expect(asked().slice(-2)).toEqual(['more', 'approve']);
    const before = asked().length;
    await world.tick();
    world.hookAnswers.delete('approve');
    await world.tick();
    expect(world.phase).toBe('Promoting');
    expect(asked().slice(before)).toEqual(['approve', 'approve']);
  });

  it.each([
    ['A/B testing', { match: [{ headers: { 'x-canary': { exact: 'insider' } } }] }],
    ['blue/green', {}],
  ])(
    '%s: a closed confirm-promotion gate: one more iteration is checked, then the canary waits; once the gate opens it is promoted',
    async (_name, analysis) => {
      const world = await initializedWorld(
        newTestCanary({
          stepWeight: undefined,
          maxWeight: undefined,
          iterations: 2,
          ...analysis,
          metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
          webhooks: [{ name: 'approve', type: 'confirm-promotion', url: 'http://gate/' }],
        }),
      );
      world.hookAnswers.set('approve', refused());
      await runUntil(world, ['WaitingPromotion']);
      expect(world.status.iterations).toBe(1);
      // While the gate stays closed: one more checked iteration, then the gate is asked on every
      // tick and nothing else changes (no iteration counted again and again).
      for (let tick = 0; tick < 4; tick += 1) await world.tick();
      expect(world.phase).toBe('WaitingPromotion');
      expect(world.status.iterations).toBe(2);
      expect(world.messages().filter((message) => message.includes('iteration 2/2')).length).toBe(2);
      world.hookAnswers.delete('approve');
      await runUntil(world, ['Promoting'], 5);
      expect(world.promotions).toEqual(['rev-2']);
      expect(world.messages().filter((message) => message.includes('iteration 2/2')).length).toBe(2);
    },
  );

  it('a failing check in WaitingPromotion can still roll back', async () => {
    const world = await initializedWorld(
      newTestCanary({
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
        webhooks: [{ name: 'approve', type: 'confirm-promotion', url: 'http://gate/' }],
      }),
    );
    world.hookAnswers.set('approve', refused());
    await runUntil(world, ['WaitingPromotion']);
    world.successRate = 90;
    await runUntil(world, ['Failed']);
    expect(world.routes.canaryWeight).toBe(0);
    expect(world.promotions).toEqual([]);
  });

  it('failedChecks reaching the threshold → Failed: traffic back, canary scaled down, alert, post-rollout', async () => {
    const world = await initializedWorld(
      newTestCanary({
        threshold: 2,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
        webhooks: [{ name: 'after', type: 'post-rollout', url: 'http://hooks/' }],
      }),
    );
    await world.tick();
    await world.tick();
    expect(world.routes.canaryWeight).toBe(20);
    world.successRate = 95;
    await world.tick();
    await world.tick();
    expect(world.status.failedChecks).toBe(2);
    expect(world.messages().slice(-2)).toEqual([
      'Halt podinfo.test advancement success rate 95.00% < 99%',
      'Halt podinfo.test advancement success rate 95.00% < 99%',
    ]);
    await world.tick();
    expect(world.phase).toBe('Failed');
    expect(world.routes).toEqual({ primaryWeight: 100, canaryWeight: 0, mirrored: false });
    expect(world.targetScaledToZero).toBe(true);
    expect(world.status).toMatchObject({ failedChecks: 0, canaryWeight: 0 });
    expect(world.status.conditions?.[0]).toMatchObject({
      status: 'False',
      reason: 'Failed',
      message: 'Canary analysis failed, Deployment scaled to zero.',
    });
    expect(world.messages().slice(-3)).toEqual([
      'Rolling back podinfo.test failed checks threshold reached 2',
      'Canary failed! Scaling down podinfo.test',
      'Post-rollout check after passed',
    ]);
    expect(world.alerts.at(-1)).toEqual({ severity: 'error', text: 'Failed checks threshold reached 2' });
    expect(world.hookCalls.at(-1)).toMatchObject({ hook: { name: 'after' }, payload: { phase: 'Failed' } });
    expect(world.violations).toEqual([]);
  });

  it('a canary that never gets ready is rolled back with the progress-deadline alert Flagger never sends', async () => {
    const world = await initializedWorld();
    await world.tick();
    world.canaryReady = {
      ready: false,
      retriable: false,
      reason: 'progress deadline exceeded: 0 of 2 updated replicas are available',
    };
    await world.tick();
    expect(world.phase).toBe('Failed');
    expect(world.alerts.at(-1)).toEqual({
      severity: 'error',
      text: 'Progress deadline exceeded progress deadline exceeded: 0 of 2 updated replicas are available',
    });
  });

  it('a canary that stops being ready once promotion has begun does not fail a revision the primary already runs', async () => {
    for (const phase of ['Promoting', 'Finalising']) {
      const world = await initializedWorld();
      await runUntil(world, [phase]);
      world.canaryReady = {
        ready: false,
        retriable: false,
        reason: 'deployment "podinfo" exceeded its progress deadline',
      };
      await runUntil(world, ['Succeeded', 'Failed']);
      expect(world.phase).toBe('Succeeded');
      expect(world.promotions.at(-1)).toBe('rev-2');
      expect(world.routes.canaryWeight).toBe(0);
      expect(world.targetScaledToZero).toBe(true);
      expect(world.alerts.map((alert) => alert.severity)).not.toContain('error');
      expect(world.violations).toEqual([]);
    }
  });

  it('a rollback hook that answers ≤ 202 rolls back at once', async () => {
    const world = await initializedWorld(
      newTestCanary({ webhooks: [{ name: 'abort', type: 'rollback', url: 'http://gate/rollback/check' }] }),
    );
    world.hookAnswers.set('abort', refused());
    await world.tick();
    await world.tick();
    expect(world.phase).toBe('Progressing');
    world.hookAnswers.set('abort', { ok: true, status: 200, body: 'rollback', attempts: 1 });
    await world.tick();
    expect(world.phase).toBe('Failed');
    expect(world.messages()).toContain('Rolling back podinfo.test manual webhook invoked');
    expect(world.alerts).toContainEqual({ severity: 'warn', text: 'Rolling back manual webhook invoked' });
  });

  it('Promoting with a primary that breaks → Failed with all traffic on the canary (#1591)', async () => {
    const world = await initializedWorld();
    await runUntil(world, ['Promoting']);
    world.primaryReady = { ready: false, retriable: false, reason: 'progress deadline exceeded' };
    await world.tick();
    expect(world.phase).toBe('Failed');
    expect(world.routes).toEqual({ primaryWeight: 0, canaryWeight: 100, mirrored: false });
    expect(world.targetScaledToZero).toBe(false);
    expect(world.alerts.at(-1)).toEqual({
      severity: 'error',
      text: 'Promotion failed, primary not ready: progress deadline exceeded',
    });
  });

  it('a new revision mid-analysis restarts the analysis from weight 0', async () => {
    const world = await initializedWorld();
    await world.tick();
    await world.tick();
    await world.tick();
    expect(world.routes.canaryWeight).toBe(40);
    world.release('rev-3');
    await world.tick();
    expect(world.phase).toBe('Progressing');
    expect(world.routes.canaryWeight).toBe(0);
    expect(world.status).toMatchObject({
      lastAppliedSpec: 'rev-3',
      canaryWeight: 0,
      iterations: 0,
      failedChecks: 0,
    });
    expect(world.messages().at(-1)).toBe('New revision detected! Restarting analysis for podinfo.test');
  });

  it('skipAnalysis promotes as soon as the canary is ready', async () => {
    const world = await initializedWorld(newTestCanary({}, { skipAnalysis: true }));
    await world.tick();
    world.canaryReady = { ready: false, retriable: true, reason: 'not yet' };
    await world.tick();
    expect(world.phase).toBe('Progressing');
    world.canaryReady = { ready: true };
    await world.tick();
    expect(world.phase).toBe('Succeeded');
    expect(world.promotions).toEqual(['rev-2']);
    expect(world.targetScaledToZero).toBe(true);
    expect(world.messages().at(-1)).toBe('Promotion completed! Canary analysis was skipped for podinfo.test');
    expect(world.metrics).toContainEqual({ call: 'countSuccess', args: ['canary', 'skipped'] });
  });

  it('suspend does nothing but say so', async () => {
    const world = await initializedWorld();
    world.canary.spec.suspend = true;
    const calls = world.calls.length;
    await world.tick();
    expect(world.phase).toBe('Initialized');
    expect(world.calls.length).toBe(calls);
    expect(world.messages()).toEqual(['skipping canary run as object is suspended']);
  });

  it('Promoting → Finalising → Succeeded: promotion, traffic back, canary scaled down, post-rollout Succeeded', async () => {
    const world = await initializedWorld(
      newTestCanary({ webhooks: [{ name: 'after', type: 'post-rollout', url: 'http://hooks/' }] }),
    );
    await runUntil(world, ['Succeeded']);
    expect(world.promotions).toEqual(['rev-2']);
    expect(world.status).toMatchObject({
      lastAppliedSpec: 'rev-2',
      lastPromotedSpec: 'rev-2',
      canaryWeight: 0,
    });
    expect(world.targetScaledToZero).toBe(true);
    expect(world.hookCalls.at(-1)).toMatchObject({
      hook: { name: 'after' },
      payload: { phase: 'Succeeded' },
    });
    expect(world.alerts.at(-1)).toEqual({
      severity: 'info',
      text: 'Canary analysis completed successfully, promotion finished.',
    });
    expect(world.metrics).toContainEqual({ call: 'countSuccess', args: ['canary', 'completed'] });
    expect(world.violations).toEqual([]);
  });
});

describe('engine: every strategy agrees with vireo simulate', () => {
  const mirrorMetric = [{ name: 'request-success-rate', thresholdRange: { min: 99 } }];
  const cases: [string, Record<string, unknown>, Record<string, unknown>][] = [
    ['canary, stepWeight 20, maxWeight 50', { stepWeight: 20, maxWeight: 50 }, {}],
    [
      'canary, stepWeights ladder',
      { stepWeight: undefined, maxWeight: undefined, stepWeights: [1, 5, 25, 50] },
      {},
    ],
    ['canary, stepWeightPromotion', { stepWeight: 100, maxWeight: undefined, stepWeightPromotion: 30 }, {}],
    [
      'canary with an Istio mirror stage',
      { stepWeight: 50, maxWeight: undefined, mirror: true, metrics: mirrorMetric },
      { provider: 'istio' },
    ],
    [
      'A/B testing',
      {
        stepWeight: undefined,
        maxWeight: undefined,
        iterations: 3,
        match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
      },
      {},
    ],
    ['blue/green', { stepWeight: undefined, maxWeight: undefined, iterations: 3 }, {}],
    [
      'blue/green with mirroring',
      { stepWeight: undefined, maxWeight: undefined, iterations: 2, mirror: true },
      { provider: 'istio' },
    ],
    [
      'kubernetes provider (blue/green)',
      { stepWeight: undefined, maxWeight: undefined, iterations: 2 },
      { provider: 'kubernetes' },
    ],
  ];

  it.each(cases)('%s', async (_name, analysis, spec) => {
    const canary = newTestCanary(analysis, spec);
    const world = await initializedWorld(canary);
    const observed: string[] = [];
    for (let tick = 0; tick < 40 && world.phase !== 'Succeeded'; tick += 1) {
      await world.tick();
      const { primaryWeight, canaryWeight } = world.routes;
      observed.push(`${world.phase} ${canaryWeight}/${primaryWeight} i=${world.status.iterations ?? 0}`);
    }
    const timeline = await simulateCanary(canary);
    const expected = timeline.steps.map(
      (step) => `${step.phase} ${step.canaryWeight}/${step.primaryWeight} i=${step.iteration}`,
    );
    expect(observed).toEqual(expected);
    expect(world.promotions).toEqual(['rev-2']);
    expect(world.violations).toEqual([]);
  });
});

describe('engine: restarts and crashes', () => {
  const scenarios: [string, Record<string, unknown>, Record<string, unknown>][] = [
    [
      'canary',
      {
        stepWeight: 20,
        maxWeight: 50,
        stepWeightPromotion: 50,
        webhooks: [{ name: 'approve', type: 'confirm-promotion', url: 'http://gate/' }],
      },
      {},
    ],
    ['blue/green', { stepWeight: undefined, maxWeight: undefined, iterations: 2 }, { provider: 'istio' }],
  ];

  it.each(scenarios)(
    '%s: a crash at any port call, before or after it takes effect, never promotes twice or strands traffic',
    async (_name, analysis, spec) => {
      const canary = newTestCanary(analysis, spec);
      const reference = await initializedWorld(canary);
      await runUntil(reference, ['Succeeded']);
      const callsInRun = reference.calls.length;
      expect(callsInRun).toBeGreaterThan(20);
      for (let at = 1; at <= callsInRun; at += 1) {
        for (const when of ['before', 'after'] as const) {
          const world = await initializedWorld(canary);
          world.calls = [];
          world.crash = { at, when };
          await runUntil(world, ['Succeeded'], 60);
          expect(world.promotions, `crash ${when} call ${at}`).toEqual(['rev-2']);
          expect(world.violations, `crash ${when} call ${at}`).toEqual([]);
          expect(world.routes).toEqual({ primaryWeight: 100, canaryWeight: 0, mirrored: false });
          expect(world.targetScaledToZero).toBe(true);
        }
      }
    },
  );

  it('a rollback interrupted by a crash completes on the next tick with traffic on the primary', async () => {
    const canary = newTestCanary({
      threshold: 1,
      metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
    });
    for (let at = 1; at <= 12; at += 1) {
      const world = await initializedWorld(canary);
      await world.tick();
      await world.tick();
      world.successRate = 10;
      world.calls = [];
      world.crash = { at, when: 'after' };
      await runUntil(world, ['Failed']);
      expect(world.routes.canaryWeight).toBe(0);
      expect(world.targetScaledToZero).toBe(true);
      expect(world.violations).toEqual([]);
    }
  });
});

describe('engine: checks, webhooks and decisions', () => {
  it('records why it halted: the check, the value, the threshold and what happens next', async () => {
    const world = await initializedWorld(
      newTestCanary({ threshold: 3, metrics: [{ name: 'request-duration', thresholdRange: { max: 500 } }] }),
    );
    await world.tick();
    await world.tick();
    world.durationMs = 812.7;
    await world.tick();
    const [last] = (await world.decisions.recent(world.key, 1)).slice(-1);
    expect(last).toMatchObject({
      action: 'halt',
      phase: 'Progressing',
      message: 'Halt podinfo.test advancement request duration 812ms > 500ms',
      failedChecks: 1,
      threshold: 3,
      canaryWeight: 20,
      checks: [
        { check: 'request-duration', verdict: 'fail', value: 812, unit: 'ms', threshold: { max: 500 } },
      ],
      next: 'checks run again in 1m; 2 more failed checks roll back',
    });
  });

  it('counts "no values found" as a failed check with Flagger\'s message', async () => {
    const world = await initializedWorld(
      newTestCanary({
        metrics: [{ name: 'errors', templateRef: { name: 'errors' }, thresholdRange: { max: 1 } }],
      }),
    );
    world.templates.set('test/errors', {
      apiVersion: 'flagger.app/v1beta1',
      kind: 'MetricTemplate',
      metadata: { name: 'errors', namespace: 'test' },
      spec: {
        provider: { type: 'prometheus', address: 'http://prometheus:9090' },
        query: 'sum(rate(errors{ns="{{ namespace }}",app="{{ target }}"}[{{ interval }}]))',
      },
    });
    world.templateValues.set('errors', new NoValuesFoundError('empty result'));
    await world.tick();
    await world.tick();
    await world.tick();
    expect(world.status.failedChecks).toBe(1);
    expect(world.messages().at(-1)).toBe('Halt advancement no values found for custom metric: errors');
    world.templateValues.set('errors', 0.5);
    await world.tick();
    expect(world.routes.canaryWeight).toBe(40);
    const [last] = (await world.decisions.recent(world.key, 1)).slice(-1);
    expect(last?.checks?.[0]).toMatchObject({
      check: 'errors',
      verdict: 'pass',
      value: 0.5,
      evidence: { query: 'sum(rate(errors{ns="test",app="podinfo"}[1m]))' },
    });
  });

  it("calls each hook type at its moment with Flagger's payload and the Secret's headers", async () => {
    const hooks = [
      'confirm-rollout',
      'pre-rollout',
      'rollout',
      'confirm-traffic-increase',
      'confirm-promotion',
      'post-rollout',
    ].map((type) => ({
      name: type,
      type,
      url: `http://hooks/${type}`,
      metadata: { cmd: `run ${type}` },
      secretRef: { name: 'hook-auth' },
    }));
    const world = await initializedWorld(newTestCanary({ stepWeight: 50, maxWeight: 50, webhooks: hooks }));
    world.secrets.set('test/hook-auth', { Authorization: 'Bearer s3cr3t' });
    await runUntil(world, ['Succeeded']);
    expect(world.hookCalls.map((call) => `${call.hook.name}@${call.payload.phase}`)).toEqual([
      'confirm-rollout@Initialized',
      'pre-rollout@Progressing',
      'confirm-traffic-increase@Progressing',
      'rollout@Progressing',
      'confirm-traffic-increase@Progressing',
      'confirm-promotion@Progressing',
      'post-rollout@Succeeded',
    ]);
    expect(world.hookCalls[1]!.payload).toEqual({
      name: 'podinfo',
      namespace: 'test',
      phase: 'Progressing',
      checksum: expect.stringMatching(/^[0-9a-f]{8}$/),
      metadata: { cmd: 'run pre-rollout' },
    });
    expect(world.hookCalls.every((call) => call.headers['Authorization'] === 'Bearer s3cr3t')).toBe(true);
  });

  it('a missing webhook Secret fails the hook, naming the Secret', async () => {
    const world = await initializedWorld(
      newTestCanary({ webhooks: [{ name: 'load', url: 'http://hooks/', secretRef: { name: 'absent' } }] }),
    );
    await world.tick();
    await world.tick();
    await world.tick();
    expect(world.messages().at(-1)).toBe(
      'Halt podinfo.test advancement external check load failed Secret test/absent for webhook load not found',
    );
  });

  it('sends every event to the event hooks, whose metadata cannot override the event keys', async () => {
    const world = await initializedWorld(
      newTestCanary({
        webhooks: [
          {
            name: 'audit',
            type: 'event',
            url: 'http://audit/',
            metadata: { eventType: 'spoofed', team: 'web' },
          },
        ],
      }),
    );
    await world.tick();
    const call = world.hookCalls.find((entry) => entry.hook.name === 'audit');
    expect(call?.payload.metadata).toEqual({
      team: 'web',
      eventMessage: 'New revision detected! Scaling up podinfo.test',
      eventType: 'Normal',
      timestamp: String(world.now.getTime() - 60_000),
    });
  });
});

describe('engine: session affinity and deletion', () => {
  it('issues a canary cookie while the canary takes traffic and retires it at weight 0', async () => {
    const world = await initializedWorld(
      newTestCanary(
        { sessionAffinity: { cookieName: 'canary-session', primaryCookieName: 'primary-session' } },
        { provider: 'istio' },
      ),
    );
    await world.tick();
    await world.tick();
    expect(world.routes.canaryWeight).toBe(20);
    const cookie = world.status.sessionAffinityCookie;
    expect(cookie).toMatch(/^canary-session=[A-Za-z]{10}$/);
    expect(world.status.primarySessionAffinityCookie).toMatch(/^primary-session=[A-Za-z]{10}$/);
    await world.tick();
    expect(world.status.sessionAffinityCookie).toBe(cookie);
    await runUntil(world, ['Succeeded']);
    expect(world.status.sessionAffinityCookie).toBeUndefined();
    expect(world.status.previousSessionAffinityCookie).toBe(cookie);
  });

  it('revertOnDeletion: Terminating, target restored, routing finalized, event', async () => {
    const world = await initializedWorld(newTestCanary({}, { revertOnDeletion: true }));
    await world.engine().finalizeDeletion(world.key);
    expect(world.phase).toBe('Terminating');
    expect(world.targetScaledToZero).toBe(false);
    expect(world.calls).toContain('finalizeRoutes');
    expect(world.messages().at(-1)).toBe('Terminated canary podinfo.test');
  });
});

describe('engine: a sequential judge fits the check interface', () => {
  it('an inconclusive verdict holds the weight without counting a failed check', async () => {
    const world = await initializedWorld();
    let verdict: 'inconclusive' | 'pass' = 'inconclusive';
    const judge = {
      name: 'error-rate-vs-primary',
      evaluate: () =>
        Promise.resolve({
          check: 'error-rate-vs-primary',
          verdict,
          message: 'need ~800 more canary requests to rule out 0.1% → 1%',
          evidence: { canaryRequests: 120, primaryRequests: 2300, eValue: 1.8 },
        }),
    };
    const options = { checkKinds: new CheckRegistry([{ name: 'judge', forCanary: () => [judge] }]) };
    await world.tick(options);
    await world.tick(options);
    await world.tick(options);
    await world.tick(options);
    expect(world.routes.canaryWeight).toBe(20);
    expect(world.status.failedChecks ?? 0).toBe(0);
    const [last] = (await world.decisions.recent(world.key, 1)).slice(-1);
    expect(last).toMatchObject({
      action: 'hold',
      next: 'the weight holds; checks run again in 1m',
      checks: [{ verdict: 'inconclusive', evidence: { eValue: 1.8 } }],
    });
    verdict = 'pass';
    await world.tick(options);
    expect(world.routes.canaryWeight).toBe(40);
  });
});

describe('engine: the judge seam (check context, analysis start, per-arm observations)', () => {
  /** A judge kind that records the context of every step and what the observations port answers. */
  function recordingJudge() {
    const contexts: CheckContext[] = [];
    const observed: ArmTraffic[] = [];
    const registry = DEFAULT_CHECK_REGISTRY.with({
      name: 'judge',
      forCanary: () => [
        {
          name: 'compare-arms',
          evaluate: async (context) => {
            contexts.push(context);
            const traffic = await context.ports.observations?.observe(
              context.canary,
              context.analysisStartedAt,
            );
            if (traffic !== undefined) observed.push(traffic);
            return { check: 'compare-arms', verdict: 'pass', message: 'arms compared' };
          },
        },
      ],
    });
    return { contexts, observed, registry };
  }

  it("gives each check the step's canary, iteration, clock and the revision's analysis start", async () => {
    const world = await initializedWorld();
    const judge = recordingJudge();
    const options = { checkKinds: judge.registry };
    const startedAt = world.now;
    await world.tick(options); // Progressing: the analysis of rev-2 starts
    await world.tick(options); // first step: pre-rollout hooks, no checks
    await world.tick(options);
    await world.tick(options);
    expect(judge.contexts.map((context) => context.iteration)).toEqual([0, 0]);
    expect(judge.contexts.map((context) => context.now.toISOString())).toEqual([
      '2026-11-23T10:03:00.000Z',
      '2026-11-23T10:04:00.000Z',
    ]);
    for (const context of judge.contexts) {
      expect(context.analysisStartedAt).toEqual(startedAt);
      expect(context.canary.status?.canaryWeight).toBeGreaterThan(0);
    }
    expect(world.status.conditions).toEqual([
      expect.objectContaining({ type: 'Promoted', status: 'Unknown', reason: 'Progressing' }),
      expect.objectContaining({
        type: 'Analysing',
        status: 'True',
        lastTransitionTime: '2026-11-23T10:01:00Z',
        message: 'Analysis of revision rev-2 started.',
      }),
    ]);
  });

  it('the analysis start survives a restart (it is in the status) and moves with a new revision', async () => {
    const world = await initializedWorld();
    const judge = recordingJudge();
    const options = { checkKinds: judge.registry };
    await world.tick(options);
    await world.tick(options);
    await world.tick(options);
    // Every tick builds a new engine: nothing but the status carries the start across ticks.
    const firstStart = judge.contexts[0]?.analysisStartedAt;
    expect(firstStart?.toISOString()).toBe('2026-11-23T10:01:00.000Z');
    world.release('rev-3');
    await world.tick(options); // restart for rev-3
    const restartedAt = new Date(world.now.getTime() - 60_000);
    await world.tick(options);
    await world.tick(options);
    expect(judge.contexts.at(-1)?.analysisStartedAt).toEqual(restartedAt);
    expect(world.status.conditions?.find((condition) => condition.type === 'Analysing')?.message).toBe(
      'Analysis of revision rev-3 started.',
    );
  });

  it('the run ends the condition, and a status from before it was recorded gets one once', async () => {
    const world = await initializedWorld(newTestCanary({ threshold: 1, maxWeight: 60 }));
    const judge = recordingJudge();
    const options = { checkKinds: judge.registry };
    await world.tick(options);
    await world.tick(options);
    // As if Flagger (or an older Vireo) had started this analysis: no Analysing condition.
    world.canary.status!.conditions = world.status.conditions?.filter((c) => c.type !== 'Analysing');
    const upgradedAt = world.now;
    await world.tick(options);
    await world.tick(options);
    expect(judge.contexts.map((context) => context.analysisStartedAt)).toEqual([upgradedAt, upgradedAt]);
    expect(world.now.getTime() - upgradedAt.getTime()).toBe(120_000);
    for (let tick = 0; tick < 6 && world.phase !== 'Succeeded'; tick += 1) await world.tick(options);
    expect(world.phase).toBe('Succeeded');
    expect(world.status.conditions?.find((condition) => condition.type === 'Analysing')).toMatchObject({
      status: 'False',
      reason: 'Succeeded',
    });
  });

  it("hands the platform's per-arm observations to the check, from the analysis start", async () => {
    const world = await initializedWorld();
    const judge = recordingJudge();
    const asked: Date[] = [];
    const arm = (requests: number, errors: number) => ({
      requests,
      errors,
      latencyBuckets: { '0.1': requests },
    });
    const observations: TrafficObservations = {
      observe: (_canary, since) => {
        asked.push(since);
        return Promise.resolve({ canary: arm(40, 2), primary: arm(760, 1), from: since, to: world.now });
      },
    };
    const options = {
      checkKinds: judge.registry,
      checks: { builtin: world.builtin, templates: world.metricTemplates, observations },
    };
    await world.tick(options);
    await world.tick(options);
    await world.tick(options);
    expect(asked).toEqual([new Date('2026-11-23T10:01:00Z')]);
    expect(judge.observed[0]).toMatchObject({
      canary: { requests: 40, errors: 2 },
      primary: { requests: 760 },
    });
  });
});
