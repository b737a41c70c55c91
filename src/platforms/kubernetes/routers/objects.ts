/**
 * Helpers shared by the Services and the routers: which Canary owns an object, and the smallest
 * JSON merge patch that turns what is there into what we want (so "nothing changed" means no
 * write at all, and a write never carries fields another manager owns).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Canary } from '../../../api/schema/canary.js';
import type { KubeObject } from '../client.js';

/** kubectl's client-side apply record: the user's own manifest, used to restore what Vireo changed. */
export const KUBECTL_LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/**
 * On every object the controller generates (Services, canary Ingress, routes), as Flagger does:
 * Flux must neither revert what the controller manages nor report it as drift.
 */
export const FLUX_HANDS_OFF: Readonly<Record<string, string>> = {
  'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
  'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
};

/** Flux's ownership labels and annotations, copied from a user's object, would make Flux prune ours. */
export const isFluxKey = (key: string): boolean => key.includes('toolkit.fluxcd.io');

export const namespaceOf = (canary: Canary): string => canary.metadata.namespace ?? 'default';

/** `<svc>`: spec.service.name, or the target's name (reference notation). */
export const apexNameOf = (canary: Canary): string => canary.spec.service?.name ?? canary.spec.targetRef.name;

/**
 * Owned means a Canary owner reference with this canary's name. The name, not the uid: a Canary
 * deleted and re-created under the same name takes over the objects the old one made (garbage
 * collection only acts on owners that no longer exist).
 */
export function isOwnedByCanary(object: KubeObject, canary: Canary): boolean {
  return (object.metadata.ownerReferences ?? []).some(
    (owner) =>
      owner.kind === 'Canary' &&
      owner.apiVersion.startsWith('flagger.app/') &&
      owner.name === canary.metadata.name,
  );
}

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * RFC 7386 merge patch from `current` to `desired`, or undefined when they already agree. Keys
 * missing from (or undefined in) `desired` become null, which deletes them; arrays are replaced
 * whole, as merge patch always does.
 */
export function mergePatchOf(current: unknown, desired: unknown): unknown {
  if (isPlainObject(current) && isPlainObject(desired)) {
    const patch: Record<string, unknown> = {};
    for (const [key, value] of Object.entries(desired)) {
      if (value === undefined) continue;
      const change = mergePatchOf(current[key], value);
      if (change !== undefined) patch[key] = change;
    }
    for (const [key, value] of Object.entries(current)) {
      if (value !== undefined && desired[key] === undefined) patch[key] = null;
    }
    return Object.keys(patch).length === 0 ? undefined : patch;
  }
  if (desired === undefined) return current === undefined ? undefined : null;
  return isDeepStrictEqual(current, desired) ? undefined : desired;
}

/** mergePatchOf for two objects: the patch is then always an object (or nothing to do). */
export function objectPatchOf(current: object, desired: object): object | undefined {
  return mergePatchOf(current, desired) as object | undefined;
}

/** `map` without the keys `drop` selects. */
export function withoutKeys(
  map: Readonly<Record<string, string>> | undefined,
  drop: (key: string) => boolean,
): Record<string, string> {
  return Object.fromEntries(Object.entries(map ?? {}).filter(([key]) => !drop(key)));
}
