/**
 * Taking over canaries that Flagger ran (docs/migrating-from-flagger.md, docs/flagger-compatibility.md
 * "Taking over from Flagger"). Flagger and Vireo hash a target's spec differently, so the first
 * tick on a Flagger-written status would see every canary as a new revision: re-run all hooks,
 * re-promote succeeded canaries, and scale a rejected version up again. Instead, a status whose
 * revision is in Flagger's format is adopted: its revision fields are rewritten in ours, with the
 * phase, weights and counters kept, and nothing else happens. From then on our own hash is kept.
 */
import type { CanaryPhase, CanaryStatus } from '../api/schema/canary.js';
import type { TargetRevision } from './ports.js';

/**
 * Flagger writes the decimal digits of a 32-bit FNV hash, each byte mapped onto the alphabet
 * `bcdfghjklmnpqrstvwxz2456789`: digits become the ten characters 4-9, b, c, d, f, and a 32-bit
 * number above 9,999,999 gives 8 to 10 of them. Our hash is the same number written in base 27,
 * at most 7 characters, so the two never meet at 8 characters or more. Flagger's hashes of under
 * 8 digits (about 0.2 % of them) are not recognised: those canaries are analysed again, as
 * before, which is safe.
 */
const FLAGGER_REVISION = /^[4-9bcdf]{8,10}$/;

export function isFlaggerRevision(hash: string | undefined): boolean {
  return hash !== undefined && FLAGGER_REVISION.test(hash);
}

/** The result of adopting a Flagger-written status. */
export type Adoption =
  | { readonly adopt: true; readonly status: CanaryStatus; readonly why: string }
  | { readonly adopt: false; readonly why: string };

/** Phases in which the target is the revision under analysis (or waiting for its gate). */
const IN_FLIGHT: ReadonlySet<CanaryPhase> = new Set([
  'Waiting',
  'Progressing',
  'WaitingPromotion',
  'Promoting',
  'Finalising',
]);

/**
 * What to write for a status Flagger wrote, given the target's current revision (in our hash).
 * - Initialized or Succeeded: adopted when the primary runs the target's spec (Flagger promoted
 *   it); otherwise the target changed after Flagger's last promotion, a genuine new revision.
 * - Failed: the target holds the rejected version (Flagger refreshes the hash of a failed canary
 *   on every tick), so it is adopted as the applied revision and stays Failed, scaled to zero.
 * - In flight: the target is what is being analysed; the analysis continues where Flagger left it.
 * The tracked configs are rewritten in our checksums too, when they track the same objects.
 */
export function adoptFlaggerStatus(
  status: CanaryStatus,
  phase: CanaryPhase,
  revision: TargetRevision,
): Adoption {
  const flaggerConfigs = Object.keys(status.trackedConfigs ?? {}).sort();
  const ourConfigs = Object.keys(revision.trackedConfigs).sort();
  if (flaggerConfigs.join('\n') !== ourConfigs.join('\n'))
    return {
      adopt: false,
      why: 'the tracked ConfigMaps and Secrets changed since Flagger last wrote the status',
    };
  const revisionFields = {
    lastAppliedSpec: revision.specHash,
    trackedConfigs: { ...revision.trackedConfigs },
  };
  if (phase === 'Initialized' || phase === 'Succeeded') {
    if (revision.primaryRunsTarget !== true)
      return {
        adopt: false,
        why: 'the primary does not run the target spec: the target changed after Flagger promoted',
      };
    return {
      adopt: true,
      status: { ...status, ...revisionFields, lastPromotedSpec: revision.specHash },
      why: `the primary runs the target spec Flagger promoted (phase ${phase})`,
    };
  }
  if (phase === 'Failed')
    return {
      adopt: true,
      status: { ...status, ...revisionFields },
      why: 'the target holds the version Flagger rolled back; it stays Failed and scaled to zero',
    };
  if (IN_FLIGHT.has(phase))
    return {
      adopt: true,
      status: { ...status, ...revisionFields },
      why: `the target is the revision under analysis (phase ${phase}); the analysis continues`,
    };
  return { adopt: false, why: `phase ${phase || '(none)'} has no revision to adopt` };
}
