import { describe, expect, it } from 'vitest';
import { newTestCanary } from './fixtures.test-helper.js';
import { isOwnedByCanary, mergePatchOf } from './objects.js';

describe('mergePatchOf', () => {
  it('given equal values, when diffing, then there is nothing to patch', () => {
    expect(mergePatchOf({ a: { b: [1, 2] }, c: 'x' }, { c: 'x', a: { b: [1, 2] } })).toBeUndefined();
  });

  it('given changed, added and removed keys, when diffing, then only they appear, removals as null', () => {
    expect(
      mergePatchOf({ labels: { a: '1', b: '2' }, ports: [1] }, { labels: { a: '1', c: '3' }, ports: [1, 2] }),
    ).toEqual({ labels: { b: null, c: '3' }, ports: [1, 2] });
  });

  it('given undefined in the desired object, when diffing, then the key is removed or left absent', () => {
    expect(mergePatchOf({ a: 'x' }, { a: undefined })).toEqual({ a: null });
    expect(mergePatchOf({}, { a: undefined })).toBeUndefined();
  });
});

describe('isOwnedByCanary', () => {
  it('given a Canary owner reference with the canary name, when checking, then it is owned', () => {
    const owner = { apiVersion: 'flagger.app/v1beta1', kind: 'Canary', name: 'podinfo', uid: 'u' };
    expect(isOwnedByCanary({ metadata: { name: 's', ownerReferences: [owner] } }, newTestCanary())).toBe(
      true,
    );
    expect(
      isOwnedByCanary(
        { metadata: { name: 's', ownerReferences: [{ ...owner, name: 'other' }] } },
        newTestCanary(),
      ),
    ).toBe(false);
    expect(isOwnedByCanary({ metadata: { name: 's' } }, newTestCanary())).toBe(false);
  });
});
