import { describe, expect, it } from 'vitest';
import {
  effectiveMaxWeight,
  nextStepWeight,
  deploymentStrategy,
  nextProgressionStep,
  nextPromotionStep,
  type ProgressionSettings,
} from './progression.js';
import { ROUTER_TRAITS } from '../routers/traits.js';

const base: ProgressionSettings = {
  provider: 'istio',
  router: ROUTER_TRAITS.istio,
  strategy: 'canary',
  intervalMs: 60_000,
  threshold: 5,
  iterations: 0,
  maxWeight: undefined,
  stepWeight: 0,
  stepWeights: [],
  stepWeightPromotion: 0,
  mirror: false,
  mirrorWeight: 0,
};

describe('deploymentStrategy', () => {
  it('follows docs/flagger-compatibility.md#13-canary-analysis', () => {
    expect(deploymentStrategy({ iterations: 10, match: [{}] })).toBe('ab-testing');
    expect(deploymentStrategy({ iterations: 10 })).toBe('blue-green');
    expect(deploymentStrategy({ match: [{}] })).toBe('canary');
    expect(deploymentStrategy({})).toBe('canary');
  });
});

describe('nextStepWeight with a ladder', () => {
  const ladder = { stepWeight: 0, stepWeights: [1, 2, 10, 80] };
  it.each([
    [0, 1],
    [1, 1],
    [2, 8],
    [10, 70],
    [80, 20],
    [35, 65],
    [100, 1],
  ])('at %d%% adds %d', (weight, expected) => {
    expect(nextStepWeight(ladder, weight)).toBe(expected);
  });

  it('caps the ladder at its last step and ignores maxWeight', () => {
    expect(effectiveMaxWeight({ maxWeight: 30, stepWeights: [1, 2, 10, 80] })).toBe(80);
    expect(effectiveMaxWeight({ maxWeight: undefined, stepWeights: [] })).toBe(100);
    expect(effectiveMaxWeight({ maxWeight: 50, stepWeights: [] })).toBe(50);
  });
});

describe('nextPromotionStep', () => {
  it('shifts the primary in steps of stepWeightPromotion until it holds everything', () => {
    const settings = { ...base, stepWeightPromotion: 30 };
    const first = nextPromotionStep(
      settings,
      { primaryWeight: 40, canaryWeight: 60, mirrored: false },
      'app.ns',
    );
    expect(first).toEqual({
      kind: 'shift',
      routes: { primaryWeight: 70, canaryWeight: 30, mirrored: false },
      message: 'Advance app.ns primary weight 70',
      done: false,
    });
    const second = nextPromotionStep(
      settings,
      { primaryWeight: 70, canaryWeight: 30, mirrored: false },
      'app.ns',
    );
    expect(second).toMatchObject({ routes: { primaryWeight: 100, canaryWeight: 0 }, done: true });
  });

  it('finalises at once with the kubernetes provider', () => {
    expect(
      nextPromotionStep(
        { ...base, provider: 'kubernetes', router: ROUTER_TRAITS.kubernetes },
        { primaryWeight: 100, canaryWeight: 0, mirrored: false },
        'a.b',
      ),
    ).toEqual({ kind: 'finalise' });
  });
});

describe('the gates each step waits for', () => {
  const at = (
    canaryWeight: number,
    mirrored = false,
    phase: 'Progressing' | 'WaitingPromotion' = 'Progressing',
  ) => ({
    phase,
    routes: { primaryWeight: 100 - canaryWeight, canaryWeight, mirrored },
    iterations: 0,
  });
  const canary = { ...base, stepWeight: 50, maxWeight: 50 };

  it('canary: more traffic waits for confirm-traffic-increase, promotion for both gates in that order', () => {
    expect(nextProgressionStep(canary, at(0), 'a.b')).toMatchObject({
      kind: 'advance-weight',
      gates: ['confirm-traffic-increase'],
    });
    expect(nextProgressionStep(canary, at(50), 'a.b')).toEqual({
      kind: 'promote',
      gates: ['confirm-traffic-increase', 'confirm-promotion'],
    });
  });

  it('canary: a promotion asked again from WaitingPromotion does not ask for the traffic increase again', () => {
    expect(nextProgressionStep(canary, at(50, false, 'WaitingPromotion'), 'a.b')).toEqual({
      kind: 'promote',
      gates: ['confirm-promotion'],
    });
  });

  it('canary with an Istio mirror: leaving the mirror adds no live traffic to confirm', () => {
    const mirror = { ...canary, mirror: true };
    expect(nextProgressionStep(mirror, at(0), 'a.b')).toMatchObject({
      routes: { mirrored: true },
      gates: ['confirm-traffic-increase'],
    });
    expect(nextProgressionStep(mirror, at(0, true), 'a.b')).toMatchObject({
      kind: 'advance-weight',
      routes: { canaryWeight: 50, mirrored: false },
      gates: [],
    });
  });

  it('A/B and blue/green: iterations pass no gate; all traffic to the canary and promotion wait for confirm-promotion', () => {
    const ab = { ...base, strategy: 'ab-testing' as const, iterations: 2 };
    expect(nextProgressionStep(ab, at(0), 'a.b')).toMatchObject({ kind: 'advance-iteration', gates: [] });
    expect(nextProgressionStep(ab, { ...at(100), iterations: 2 }, 'a.b')).toEqual({
      kind: 'promote',
      gates: ['confirm-promotion'],
    });
    const blueGreen = { ...base, strategy: 'blue-green' as const, iterations: 2 };
    expect(nextProgressionStep(blueGreen, { ...at(0), iterations: 1 }, 'a.b')).toMatchObject({
      kind: 'advance-iteration',
      gates: [],
    });
    expect(nextProgressionStep(blueGreen, { ...at(0), iterations: 2 }, 'a.b')).toMatchObject({
      kind: 'route-all-to-canary',
      gates: ['confirm-promotion'],
    });
    expect(nextProgressionStep(blueGreen, { ...at(100), iterations: 3 }, 'a.b')).toEqual({
      kind: 'promote',
      gates: ['confirm-promotion'],
    });
  });

  it('a canary without a step size holds, with no gate to ask', () => {
    expect(nextProgressionStep(base, at(0), 'a.b')).toEqual({ kind: 'hold', gates: [] });
  });
});
