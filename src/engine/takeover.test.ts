import { describe, expect, it } from 'vitest';
import { fnv32a, encodeHash } from '../platforms/kubernetes/workloads/revision.js';
import { adoptFlaggerStatus, isFlaggerRevision } from './takeover.js';

/** What Flagger writes: the decimal digits of the hash, each byte mapped onto its alphabet. */
const ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const flaggerStyle = (value: number): string =>
  [...String(value >>> 0)].map((digit) => ALPHABET[digit.charCodeAt(0) % ALPHABET.length]).join('');

describe('isFlaggerRevision', () => {
  it("recognises Flagger's hashes and never our own", () => {
    expect(isFlaggerRevision('5d86d844f4')).toBe(true); // seen in a status Flagger 1.44 wrote
    let recognisedFlagger = 0;
    for (let i = 0; i < 5_000; i += 1) {
      const value = fnv32a(`template ${i}`);
      // Ours: at most 7 characters, so never taken for Flagger's.
      expect(isFlaggerRevision(encodeHash(value))).toBe(false);
      if (isFlaggerRevision(flaggerStyle(value))) recognisedFlagger += 1;
    }
    // All but Flagger's hashes of under 8 digits (about 0.2 % of 32-bit values).
    expect(recognisedFlagger).toBeGreaterThan(4_950);
    expect(isFlaggerRevision(undefined)).toBe(false);
    expect(isFlaggerRevision('')).toBe(false);
  });
});

describe('adoptFlaggerStatus', () => {
  const revision = { specHash: 'ggr8t7x', trackedConfigs: { 'configmap/podinfo-config': 'q2k9' } };
  const flagger = {
    lastAppliedSpec: '5d86d844f4',
    lastPromotedSpec: '5d86d844f4',
    trackedConfigs: { 'configmap/podinfo-config': '7c8b9d4f5b' },
    canaryWeight: 0,
    failedChecks: 0,
    iterations: 0,
  };

  it('takes a succeeded canary whose primary runs the target as promoted, in our hash', () => {
    const adoption = adoptFlaggerStatus({ ...flagger, phase: 'Succeeded' }, 'Succeeded', {
      ...revision,
      primaryRunsTarget: true,
    });
    expect(adoption).toMatchObject({
      adopt: true,
      status: {
        phase: 'Succeeded',
        lastAppliedSpec: 'ggr8t7x',
        lastPromotedSpec: 'ggr8t7x',
        trackedConfigs: { 'configmap/podinfo-config': 'q2k9' },
      },
    });
  });

  it('analyses a target changed after Flagger promoted: the primary does not run it', () => {
    for (const phase of ['Succeeded', 'Initialized'] as const)
      expect(
        adoptFlaggerStatus({ ...flagger, phase }, phase, { ...revision, primaryRunsTarget: false }).adopt,
      ).toBe(false);
  });

  it('keeps a failed canary failed: the target is the rejected version, adopted as applied', () => {
    const adoption = adoptFlaggerStatus(
      { ...flagger, phase: 'Failed', lastAppliedSpec: '9b4c7f8d5b' },
      'Failed',
      {
        ...revision,
        primaryRunsTarget: false,
      },
    );
    expect(adoption).toMatchObject({ adopt: true, status: { phase: 'Failed', lastAppliedSpec: 'ggr8t7x' } });
    // The promoted spec is not known in our hash; it stays as Flagger wrote it.
    expect(adoption.adopt && adoption.status.lastPromotedSpec).toBe('5d86d844f4');
  });

  it('continues an analysis in flight with its weight, iterations and failed checks', () => {
    const inFlight = {
      ...flagger,
      phase: 'Progressing' as const,
      canaryWeight: 20,
      failedChecks: 1,
      iterations: 2,
    };
    const adoption = adoptFlaggerStatus(inFlight, 'Progressing', revision);
    expect(adoption).toMatchObject({
      adopt: true,
      status: { canaryWeight: 20, failedChecks: 1, iterations: 2, lastAppliedSpec: 'ggr8t7x' },
    });
  });

  it('analyses a target whose tracked configs are not the ones Flagger tracked', () => {
    const adoption = adoptFlaggerStatus({ ...flagger, phase: 'Succeeded' }, 'Succeeded', {
      specHash: 'ggr8t7x',
      trackedConfigs: { 'configmap/podinfo-config': 'q2k9', 'secret/podinfo-token': 'x7' },
      primaryRunsTarget: true,
    });
    expect(adoption.adopt).toBe(false);
  });
});
