import { describe, expect, it } from 'vitest';
import type { Canary } from '../api/schema/canary.js';
import { simulateCanary, type Timeline } from './timeline.js';

function newTestCanary(analysis: Record<string, unknown>, spec: Record<string, unknown> = {}): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test' },
    spec: {
      provider: 'istio',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      service: { port: 9898 },
      analysis: { interval: '1m', threshold: 5, ...analysis },
      ...spec,
    },
  };
}

/** phase/canaryWeight per tick, the compact form of Flagger's own tick-by-tick tests. */
const trace = (timeline: Timeline) =>
  timeline.steps.map((step) => `${step.t}s ${step.phase}/${step.canaryWeight}`);

describe('simulate: canary strategy', () => {
  it('interval 1m, stepWeight 20, maxWeight 50: weights 20, 40, 60, then promotion', async () => {
    const timeline = await simulateCanary(newTestCanary({ stepWeight: 20, maxWeight: 50 }));
    expect(trace(timeline)).toEqual([
      '0s Progressing/0',
      '60s Progressing/20',
      '120s Progressing/40',
      '180s Progressing/60',
      '240s Promoting/60',
      '300s Finalising/0',
      '360s Succeeded/0',
    ]);
    expect(timeline).toMatchObject({
      strategy: 'canary',
      promotionStartsAt: 240,
      promotedAt: 360,
      rollbackAfter: 300,
    });
  });

  it("reproduces Flagger's stepWeightPromotion sequence (stepWeight 100, stepWeightPromotion 50)", async () => {
    const timeline = await simulateCanary(newTestCanary({ stepWeight: 100, stepWeightPromotion: 50 }));
    expect(trace(timeline).map((line) => line.split(' ')[1])).toEqual([
      'Progressing/0',
      'Progressing/100',
      'Promoting/100',
      'Promoting/50',
      'Finalising/0',
      'Succeeded/0',
    ]);
  });

  it('climbs a stepWeights ladder and promotes from its last step', async () => {
    const timeline = await simulateCanary(newTestCanary({ stepWeights: [1, 5, 25, 50] }));
    expect(
      timeline.steps.filter((step) => step.phase === 'Progressing').map((step) => step.canaryWeight),
    ).toEqual([0, 1, 5, 25, 50]);
    expect(timeline.steps.find((step) => step.phase === 'Promoting')?.canaryWeight).toBe(50);
  });

  it('mirrors first on istio, then shifts weight with the mirror off', async () => {
    const timeline = await simulateCanary(
      newTestCanary({
        stepWeight: 50,
        mirror: true,
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
        webhooks: [{ name: 'more', type: 'confirm-traffic-increase', url: 'http://loadtester/' }],
      }),
    );
    expect(timeline.steps.slice(0, 4).map((step) => [step.canaryWeight, step.mirrored])).toEqual([
      [0, false],
      [0, true],
      [50, false],
      [100, false],
    ]);
    // The tick that leaves the mirror checks the mirrored canary, with no traffic increase to confirm.
    expect(timeline.steps[2]!.checks).toEqual(['request-success-rate']);
    expect(timeline.steps[2]!.webhooks).toEqual([]);
    expect(timeline.steps[3]!.webhooks.map((hook) => hook.type)).toEqual(['confirm-traffic-increase']);
  });

  it('runs each webhook type at its tick', async () => {
    const hook = (type: string) => ({ name: type || 'load', type, url: 'http://loadtester/' });
    const timeline = await simulateCanary(
      newTestCanary({
        stepWeight: 50,
        webhooks: [
          'confirm-rollout',
          'pre-rollout',
          '',
          'confirm-traffic-increase',
          'confirm-promotion',
          'post-rollout',
        ].map(hook),
        metrics: [{ name: 'request-success-rate', thresholdRange: { min: 99 } }],
      }),
    );
    expect(timeline.steps.map((step) => step.webhooks.map((webhook) => webhook.type))).toEqual([
      ['confirm-rollout'],
      ['pre-rollout', 'confirm-traffic-increase'],
      ['rollout', 'confirm-traffic-increase'],
      ['rollout', 'confirm-traffic-increase', 'confirm-promotion'],
      [],
      ['post-rollout'],
    ]);
    expect(timeline.steps.map((step) => step.checks.length)).toEqual([0, 0, 1, 1, 0, 0]);
    expect(timeline.earliestRollbackAt).toBe(60 + 300);
  });
});

describe('simulate: A/B testing and blue/green', () => {
  it('A/B: iterations with matching traffic on the canary, then promotion', async () => {
    const timeline = await simulateCanary(
      newTestCanary({ iterations: 3, match: [{ headers: { 'x-canary': { exact: 'insider' } } }] }),
    );
    expect(timeline.strategy).toBe('ab-testing');
    expect(timeline.steps.map((step) => `${step.phase}/${step.iteration}/${step.canaryWeight}`)).toEqual([
      'Progressing/0/0',
      'Progressing/1/100',
      'Progressing/2/100',
      'Progressing/3/100',
      'Promoting/3/100',
      'Finalising/0/0',
      'Succeeded/0/0',
    ]);
  });

  it('blue/green with mirroring: mirrored iterations, all traffic to the canary, one more check, promotion', async () => {
    const timeline = await simulateCanary(newTestCanary({ iterations: 2, mirror: true }));
    expect(
      timeline.steps.map(
        (step) => `${step.phase}/${step.iteration}/${step.canaryWeight}${step.mirrored ? '/mirrored' : ''}`,
      ),
    ).toEqual([
      'Progressing/0/0',
      'Progressing/1/0/mirrored',
      'Progressing/2/0/mirrored',
      'Progressing/3/100',
      'Promoting/3/100',
      'Finalising/0/0',
      'Succeeded/0/0',
    ]);
  });

  it('the kubernetes provider: ten iterations by default, traffic stays on the primary', async () => {
    const timeline = await simulateCanary(newTestCanary({ stepWeight: 10 }, { provider: 'kubernetes' }));
    expect(timeline.strategy).toBe('blue-green');
    expect(timeline.steps.every((step) => step.primaryWeight === 100)).toBe(true);
    expect(Math.max(...timeline.steps.map((step) => step.iteration))).toBe(11);
    expect(timeline.notes[0]).toMatch(/apex Service always selects the primary/);
  });

  it('skipAnalysis promotes on the first tick', async () => {
    const timeline = await simulateCanary(newTestCanary({ stepWeight: 10 }, { skipAnalysis: true }));
    expect(trace(timeline)).toEqual(['0s Progressing/0', '60s Succeeded/0']);
  });
});

const successRate = { name: 'request-success-rate', thresholdRange: { min: 99 } };
const duration = { name: 'request-duration', thresholdRange: { max: 500 } };

describe('simulate: failing checks', () => {
  it("halts advancement with the check's own message and rolls back threshold ticks after the first failure", async () => {
    const timeline = await simulateCanary(
      newTestCanary({ stepWeight: 20, threshold: 2, metrics: [successRate, duration] }),
      { failFromSeconds: 120 },
    );
    expect(
      timeline.steps.map(
        (step) => `${step.t}s ${step.phase}/${step.canaryWeight} failed=${step.failedChecks}`,
      ),
    ).toEqual([
      '0s Progressing/0 failed=0',
      '60s Progressing/20 failed=0',
      '120s Progressing/20 failed=1',
      '180s Progressing/20 failed=2',
      '240s Failed/0 failed=2',
    ]);
    expect(timeline.rolledBackAt).toBe(240);
    expect(timeline.rolledBackAt - 120).toBe(timeline.rollbackAfter);
    // The engine stops a tick at its first failing check: request-duration is never asked.
    expect(timeline.steps[2]).toMatchObject({
      checks: ['request-success-rate'],
      events: ['Halt podinfo.test advancement success rate 98.00% < 99%'],
    });
    expect(timeline.steps[4]!.events).toEqual([
      'Rolling back podinfo.test failed checks threshold reached 2',
      'Canary failed! Scaling down podinfo.test',
    ]);
  });

  it('fails the pre-rollout webhooks on the first step, and stops at the first that fails', async () => {
    const hook = (name: string, type: string) => ({ name, type, url: 'http://loadtester/' });
    const timeline = await simulateCanary(
      newTestCanary({
        stepWeight: 20,
        threshold: 1,
        metrics: [successRate],
        webhooks: [hook('smoke', 'pre-rollout'), hook('more-smoke', 'pre-rollout'), hook('stop', 'rollback')],
      }),
      { failFromSeconds: 0 },
    );
    expect(
      timeline.steps.slice(1).map((step) => [step.phase, step.webhooks.map((w) => w.name), step.events]),
    ).toEqual([
      [
        'Progressing',
        ['stop', 'smoke'],
        [
          // Flagger says so each time a rollback hook does not ask for one.
          'Rollback hook stop not signaling a rollback',
          'Starting canary analysis for podinfo.test',
          'Halt podinfo.test advancement pre-rollout check smoke failed simulated failure',
        ],
      ],
      // The rollback webhooks are asked on the tick that rolls back too.
      [
        'Failed',
        ['stop'],
        [
          'Rollback hook stop not signaling a rollback',
          'Rolling back podinfo.test failed checks threshold reached 1',
          'Canary failed! Scaling down podinfo.test',
        ],
      ],
    ]);
    expect(timeline.earliestRollbackAt).toBe(120);
  });

  it('a canary without any check cannot be rolled back by failing checks', async () => {
    const timeline = await simulateCanary(newTestCanary({ stepWeight: 50 }), { failFromSeconds: 0 });
    expect(timeline.steps.at(-1)!.phase).toBe('Succeeded');
    expect(timeline.steps.every((step) => step.failedChecks === 0)).toBe(true);
    expect(timeline.rolledBackAt).toBeNaN();
    expect(timeline.earliestRollbackAt).toBeNaN();
  });

  it('a check that fails once is counted and the canary goes on', async () => {
    const timeline = await simulateCanary(
      newTestCanary({ stepWeight: 50, threshold: 2, metrics: [successRate] }),
      {
        failAtSeconds: [120],
      },
    );
    expect(timeline.steps.map((step) => `${step.phase}/${step.canaryWeight}/${step.failedChecks}`)).toEqual([
      'Progressing/0/0',
      'Progressing/50/0',
      'Progressing/50/1',
      'Progressing/100/1',
      'Promoting/100/1',
      'Finalising/0/1',
      'Succeeded/0/1',
    ]);
  });
});

describe('simulate: the engine decides, gates included', () => {
  const gate = (name: string, type: string) => ({ name, type, url: 'http://loadtester/gate/check' });

  it('a closed confirm-rollout gate keeps the canary Waiting until it opens', async () => {
    const timeline = await simulateCanary(
      newTestCanary({ stepWeight: 50, webhooks: [gate('go', 'confirm-rollout')] }),
      {
        closedGates: { go: 120 },
      },
    );
    expect(trace(timeline).slice(0, 4)).toEqual([
      '0s Waiting/0',
      '60s Waiting/0',
      '120s Progressing/0',
      '180s Progressing/50',
    ]);
    expect(timeline.steps[0]!.events).toEqual(['Halt podinfo.test advancement waiting for approval go']);
    // Asked again on every tick, announced once.
    expect(timeline.steps[1]).toMatchObject({
      webhooks: [{ name: 'go', type: 'confirm-rollout' }],
      events: [],
    });
  });

  it('a closed confirm-promotion gate holds the canary in WaitingPromotion, checks still running', async () => {
    const timeline = await simulateCanary(
      newTestCanary({
        stepWeight: 50,
        metrics: [successRate],
        webhooks: [gate('approve', 'confirm-promotion')],
      }),
      { closedGates: { approve: 300 } },
    );
    expect(trace(timeline)).toEqual([
      '0s Progressing/0',
      '60s Progressing/50',
      '120s Progressing/100',
      '180s WaitingPromotion/100',
      '240s WaitingPromotion/100',
      '300s Promoting/100',
      '360s Finalising/0',
      '420s Succeeded/0',
    ]);
    expect(timeline.steps[4]!.checks).toEqual(['request-success-rate']);
    expect(timeline.promotionStartsAt).toBe(300);
  });

  it('a gate that never opens: the timeline ends where the canary waits for ever', async () => {
    const timeline = await simulateCanary(
      newTestCanary({ stepWeight: 50, webhooks: [gate('more', 'confirm-traffic-increase')] }),
      {
        closedGates: { more: Infinity },
      },
    );
    expect(trace(timeline)).toEqual(['0s Progressing/0', '60s Progressing/0']);
    expect(timeline.steps[1]!.events).toContain(
      'Halt podinfo.test advancement waiting for traffic increase approval more',
    );
    expect(timeline.promotedAt).toBeNaN();
  });

  it('a canary without a step size holds at its weight, and the timeline ends there', async () => {
    const timeline = await simulateCanary(newTestCanary({}));
    expect(trace(timeline)).toEqual(['0s Progressing/0', '60s Progressing/0']);
    expect(timeline.steps[1]!.events).toEqual([
      'Starting canary analysis for podinfo.test',
      'No step weight: the canary holds at its current weight',
    ]);
  });

  it('the kubernetes provider: the events the engine emits when the apex Service switches', async () => {
    const timeline = await simulateCanary(newTestCanary({ iterations: 1 }, { provider: 'kubernetes' }));
    expect(timeline.steps.map((step) => step.events.join('; '))).toEqual([
      'New revision detected! Scaling up podinfo.test',
      'Starting canary analysis for podinfo.test; Advance podinfo.test canary iteration 1/1',
      'Routing all traffic to canary',
      'Copying podinfo.test template spec to podinfo-primary.test',
      'Routing all traffic to primary for podinfo.test',
      'Promotion completed! Scaling down podinfo.test',
    ]);
  });

  it('names the canary, not its target, when it fails', async () => {
    const canary = newTestCanary({ stepWeight: 50, threshold: 1, metrics: [successRate] });
    canary.metadata.name = 'frontend-canary';
    const timeline = await simulateCanary(canary, { failFromSeconds: 0 });
    expect(timeline.steps.at(-1)!.events.at(-1)).toBe('Canary failed! Scaling down frontend-canary.test');
  });
});
