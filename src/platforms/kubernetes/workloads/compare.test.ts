import { describe, expect, it } from 'vitest';
import { containsDesired, deepEqual, stableDump } from './compare.js';

describe('stableDump', () => {
  it('given objects with keys in different orders, then dumps the same and drops undefined members', () => {
    expect(stableDump({ b: 1, a: { d: 2, c: undefined } })).toBe('{"a":{"d":2},"b":1}');
    expect(deepEqual({ a: 1, b: [1, { y: 1, x: 2 }] }, { b: [1, { x: 2, y: 1 }], a: 1 })).toBe(true);
  });
});

describe('containsDesired', () => {
  it('given a live object with server defaults added, then it contains what we would send', () => {
    const desired = { ports: [{ port: 80 }], selector: { app: 'x' } };
    const live = { ports: [{ port: 80, protocol: 'TCP' }], selector: { app: 'x' }, clusterIP: '10.0.0.1' };
    expect(containsDesired(live, desired)).toBe(true);
  });

  it('given a changed value, a missing key or a list of another length, then it does not', () => {
    expect(containsDesired({ a: 1 }, { a: 2 })).toBe(false);
    expect(containsDesired({}, { a: 1 })).toBe(false);
    expect(containsDesired({ ports: [{ port: 80 }, { port: 81 }] }, { ports: [{ port: 80 }] })).toBe(false);
  });
});
