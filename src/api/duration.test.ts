import { describe, expect, it } from 'vitest';
import { formatDuration, isPrometheusDuration, parseGoDuration } from './duration.js';

describe('parseGoDuration', () => {
  it.each([
    ['10s', 10_000],
    ['1m', 60_000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['300ms', 300],
    ['2h45m', 9_900_000],
    ['0', 0],
    ['-1m', -60_000],
    ['.5s', 500],
  ])('reads %s as %d ms', (text, expected) => {
    expect(parseGoDuration(text)).toBe(expected);
  });

  it.each(['', '10', 'm', '1x', '1m ', ' 1m', '1 m', '.s', 'abc', '5d'])('rejects %j', (text) => {
    expect(parseGoDuration(text)).toBeUndefined();
  });
});

describe('formatDuration', () => {
  it.each([
    [90_000, '1m30s'],
    [60_000, '1m'],
    [500, '500ms'],
    [3_600_000, '1h'],
    [0, '0s'],
  ])('formats %d ms as %s', (ms, text) => {
    expect(formatDuration(ms)).toBe(text);
  });
});

describe('isPrometheusDuration', () => {
  it('accepts what a PromQL range selector accepts and nothing else', () => {
    expect(isPrometheusDuration('1m')).toBe(true);
    expect(isPrometheusDuration('1h30m')).toBe(true);
    expect(isPrometheusDuration('1.5m')).toBe(false);
    expect(isPrometheusDuration('60')).toBe(false);
  });
});
