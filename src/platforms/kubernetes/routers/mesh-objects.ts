/**
 * What the mesh routers (gloo, kuma, apisix, appmesh, skipper) share: their error, the resource
 * of each kind they write (taken from the router table, so the controller watches exactly what
 * is written), and one "create, or sync the shape we own" step that leaves every field another
 * manager set alone (docs/routers/README.md).
 */
import type { Canary } from '../../../api/schema/canary.js';
import { analysisOf } from '../../../engine/settings.js';
import { ROUTER_TRAITS, type RouterName } from '../../../routers/traits.js';
import { VireoError } from '../../../shared/errors.js';
import type { KubeClient, KubeObject } from '../client.js';
import { isAlreadyExists } from '../errors.js';
import type { ResourceType } from '../resources.js';
import { FLUX_HANDS_OFF, objectPatchOf } from './objects.js';
import type { Routes } from './router.js';

export type MeshRouterErrorCode =
  'E_MESH_REF' | 'E_MESH_NOT_FOUND' | 'E_MESH_WEIGHTS' | 'E_MESH_MATCH' | 'E_MESH_CONFLICT' | 'E_MESH_SPEC';

export class MeshRouterError extends VireoError {
  constructor(code: MeshRouterErrorCode, message: string) {
    super(code, message);
  }
}

/** The resource of `kind` as the router table row of `router` lists it (so what is written is what is watched). */
export function writtenResource(router: RouterName, kind: string): ResourceType {
  const found = ROUTER_TRAITS[router].writes.find((written) => written.kind === kind);
  // Unreachable while the table lists what each router writes (traits.test.ts, the router tests).
  if (found === undefined) throw new Error(`the router table lists no ${kind} for ${router}`);
  return found;
}

/** An object of a mesh kind: the fields the routers write are all under `spec` (plus kuma's `mesh`). */
export interface MeshObject extends KubeObject {
  spec?: Record<string, unknown>;
}

export const canaryName = (canary: Canary): string =>
  `${canary.metadata.name}.${canary.metadata.namespace ?? 'default'}`;

export const isAbTesting = (canary: Canary): boolean => (analysisOf(canary.spec)?.match?.length ?? 0) > 0;

const pickKeys = (
  value: Readonly<Record<string, unknown>> | undefined,
  keys: readonly string[],
): Record<string, unknown> =>
  Object.fromEntries(keys.filter((key) => value?.[key] !== undefined).map((key) => [key, value![key]]));

/**
 * Creates `desired`, or turns the live object's fields that `desired` names into `desired`'s:
 * the top-level `spec` keys it sets, the annotations and labels it sets and the top-level fields
 * listed in `topLevel`. Every other field (an admission webhook's `spec.meshRef`, a user's own
 * annotation) is kept. Sends nothing when they already agree; an AlreadyExists on create means
 * the cache lags and the next reconcile syncs.
 */
export async function createOrSync(
  client: KubeClient,
  resource: ResourceType,
  current: MeshObject | undefined,
  desired: MeshObject,
  topLevel: readonly string[] = [],
): Promise<void> {
  if (current === undefined) {
    try {
      await client.create(resource, desired);
    } catch (error) {
      if (!isAlreadyExists(error)) throw error;
    }
    return;
  }
  const desiredAnnotations = desired.metadata.annotations ?? {};
  const desiredLabels = desired.metadata.labels ?? {};
  const patch = objectPatchOf(
    {
      ...pickKeys(current, topLevel),
      metadata: {
        annotations: pickKeys(current.metadata.annotations, Object.keys(desiredAnnotations)),
        labels: pickKeys(current.metadata.labels, Object.keys(desiredLabels)),
      },
      spec: pickKeys(current.spec, Object.keys(desired.spec ?? {})),
    },
    {
      ...pickKeys(desired, topLevel),
      metadata: { annotations: desiredAnnotations, labels: desiredLabels },
      spec: desired.spec ?? {},
    },
  );
  if (patch === undefined) return;
  await client.mergePatch(resource, current.metadata.namespace ?? '', current.metadata.name, patch);
}

/** The annotations every generated mesh object carries: Flux neither reverts nor reports it. */
export const generatedAnnotations = (): Record<string, string> => ({ ...FLUX_HANDS_OFF });

/**
 * The routes two weights read from a live object say, or E_MESH_WEIGHTS naming the object and
 * the field when either is not a whole number from 0 to 100 (someone edited it by hand).
 */
export function routesFromWeights(primary: unknown, canary: unknown, where: string): Routes {
  const valid = (weight: unknown): weight is number =>
    typeof weight === 'number' && Number.isInteger(weight) && weight >= 0 && weight <= 100;
  // An absent weight is 0 (Gloo, App Mesh and APISIX all drop a zero weight on some paths).
  const primaryWeight = primary ?? 0;
  const canaryWeight = canary ?? 0;
  if (!valid(primaryWeight) || !valid(canaryWeight) || primaryWeight + canaryWeight === 0) {
    throw new MeshRouterError(
      'E_MESH_WEIGHTS',
      `${where}: the weights are ${JSON.stringify(primary)} (primary) and ${JSON.stringify(canary)} (canary), not whole numbers from 0 to 100 with a positive sum; fix them by hand or delete the object and Vireo writes it again`,
    );
  }
  return {
    primaryWeight: Math.round((primaryWeight * 100) / (primaryWeight + canaryWeight)),
    canaryWeight: 100 - Math.round((primaryWeight * 100) / (primaryWeight + canaryWeight)),
    mirrored: false,
  };
}

/** The routes of a new object, and of one whose weights are still to be read. */
export const ALL_TO_PRIMARY: Routes = { primaryWeight: 100, canaryWeight: 0, mirrored: false };
