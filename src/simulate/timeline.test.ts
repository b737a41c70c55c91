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
  it('interval 1m, stepWeight 20, maxWeight 50: weights 20, 40, 60, then promotion', () => {
    const timeline = simulateCanary(newTestCanary({ stepWeight: 20, maxWeight: 50 }));
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

  it("reproduces Flagger's stepWeightPromotion sequence (stepWeight 100, stepWeightPromotion 50)", () => {
    const timeline = simulateCanary(newTestCanary({ stepWeight: 100, stepWeightPromotion: 50 }));
    expect(trace(timeline).map((line) => line.split(' ')[1])).toEqual([
      'Progressing/0',
      'Progressing/100',
      'Promoting/100',
      'Promoting/50',
      'Finalising/0',
      'Succeeded/0',
    ]);
  });

  it('climbs a stepWeights ladder and promotes from its last step', () => {
    const timeline = simulateCanary(newTestCanary({ stepWeights: [1, 5, 25, 50] }));
    expect(
      timeline.steps.filter((step) => step.phase === 'Progressing').map((step) => step.canaryWeight),
    ).toEqual([0, 1, 5, 25, 50]);
    expect(timeline.steps.find((step) => step.phase === 'Promoting')?.canaryWeight).toBe(50);
  });

  it('mirrors first on istio, then shifts weight with the mirror off', () => {
    const timeline = simulateCanary(
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

  it('runs each webhook type at its tick', () => {
    const hook = (type: string) => ({ name: type || 'load', type, url: 'http://loadtester/' });
    const timeline = simulateCanary(
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
  it('A/B: iterations with matching traffic on the canary, then promotion', () => {
    const timeline = simulateCanary(
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

  it('blue/green with mirroring: mirrored iterations, all traffic to the canary, one more check, promotion', () => {
    const timeline = simulateCanary(newTestCanary({ iterations: 2, mirror: true }));
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

  it('the kubernetes provider: ten iterations by default, traffic stays on the primary', () => {
    const timeline = simulateCanary(newTestCanary({ stepWeight: 10 }, { provider: 'kubernetes' }));
    expect(timeline.strategy).toBe('blue-green');
    expect(timeline.steps.every((step) => step.primaryWeight === 100)).toBe(true);
    expect(Math.max(...timeline.steps.map((step) => step.iteration))).toBe(11);
    expect(timeline.notes[0]).toMatch(/apex Service always selects the primary/);
  });

  it('skipAnalysis promotes on the first tick', () => {
    const timeline = simulateCanary(newTestCanary({ stepWeight: 10 }, { skipAnalysis: true }));
    expect(trace(timeline)).toEqual(['0s Progressing/0', '60s Succeeded/0']);
  });
});

describe('simulate: failing checks', () => {
  it('halts advancement and rolls back threshold ticks after the first failure', () => {
    const timeline = simulateCanary(newTestCanary({ stepWeight: 20, threshold: 2 }), {
      failFromSeconds: 120,
    });
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
  });
});
