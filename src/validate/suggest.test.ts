import { describe, expect, it } from 'vitest';
import { closestMatch, editDistance } from './suggest.js';

describe('editDistance', () => {
  it('counts a transposition as one edit', () => {
    expect(editDistance('stpeWeight', 'stepWeight')).toBe(1);
    expect(editDistance('kitten', 'sitting')).toBe(3);
  });
});

describe('closestMatch', () => {
  it('finds typos, case slips and prefixes, and nothing for unrelated words', () => {
    expect(closestMatch('stepweight', ['stepWeight', 'stepWeights', 'maxWeight'])).toBe('stepWeight');
    expect(closestMatch('thresholdRnage', ['threshold', 'thresholdRange'])).toBe('thresholdRange');
    expect(closestMatch('warning', ['', 'info', 'warn', 'error'])).toBe('warn');
    expect(closestMatch('nginx-ingress', ['istio', 'nginx', 'linkerd'])).toBe('nginx');
    expect(closestMatch('banana', ['istio', 'nginx', 'linkerd'])).toBeUndefined();
  });
});
