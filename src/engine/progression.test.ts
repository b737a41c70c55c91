import { describe, expect, it } from 'vitest';
import {
  effectiveMaxWeight,
  nextStepWeight,
  deploymentStrategy,
  nextPromotionStep,
  type ProgressionSettings,
} from './progression.js';

const base: ProgressionSettings = {
  provider: 'istio',
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
        { ...base, provider: 'kubernetes' },
        { primaryWeight: 100, canaryWeight: 0, mirrored: false },
        'a.b',
      ),
    ).toEqual({ kind: 'finalise' });
  });
});
