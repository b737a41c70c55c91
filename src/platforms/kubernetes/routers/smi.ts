/**
 * The SMI family (docs/routers/smi.md, docs/routers/linkerd.md, docs/routers/osm.md): one
 * TrafficSplit `<svc>` (split.smi-spec.io) whose two backends, `<svc>-canary` and `<svc>-primary`,
 * carry the weights. `linkerd` and `smi:crossover` write v1alpha1, `osm` v1alpha2 and
 * `smi:<version>` (with or without a `:<mesh>` suffix) the version it names; the version comes from
 * the router table (src/routers/traits.ts), the only place it is written down.
 *
 * Weights are written as whole numbers: valid for the int weights of v1alpha2 and later and for
 * the Quantity weights of v1alpha1 alike. They are read back from either form.
 */
import type { Canary } from '../../../api/schema/canary.js';
import { ROUTER_TRAITS, type RouterName } from '../../../routers/traits.js';
import { VireoError } from '../../../shared/errors.js';
import type { KubeObject } from '../client.js';
import { isAlreadyExists } from '../errors.js';
import { canaryOwnerReference } from '../options.js';
import type { ResourceType } from '../resources.js';
import { apexNameOf, FLUX_HANDS_OFF, namespaceOf, objectPatchOf } from './objects.js';
import type { MeshRouter, RouterDeps, Routes } from './router.js';

export type SmiRouterErrorCode =
  'E_TRAFFICSPLIT_NOT_FOUND' | 'E_TRAFFICSPLIT_BACKENDS' | 'E_TRAFFICSPLIT_WEIGHT';

export class SmiRouterError extends VireoError {
  constructor(code: SmiRouterErrorCode, message: string) {
    super(code, message);
  }
}

/** The routers that write a TrafficSplit. */
export type SmiRouterName = Extract<
  RouterName,
  'linkerd' | 'osm' | 'smi:v1alpha1' | 'smi:v1alpha2' | 'smi:v1alpha3' | 'smi:crossover'
>;

/**
 * Where the SMI adapter for Istio reads the gateways a TrafficSplit's VirtualService binds to,
 * as Flagger writes it from `spec.service.gateways`.
 */
export const ISTIO_GATEWAYS_ANNOTATION = 'VirtualService.v1alpha3.networking.istio.io/spec.gateways';

export interface TrafficSplitBackend {
  service: string;
  /** A number, or (v1alpha1) a Kubernetes Quantity string such as "90" or "500m". */
  weight: number | string;
  [field: string]: unknown;
}

export interface TrafficSplit extends KubeObject {
  spec?: { service?: string; backends?: TrafficSplitBackend[]; [field: string]: unknown };
}

/** The TrafficSplit kind a router writes, from its row of the router table. */
export function trafficSplitResource(router: SmiRouterName): ResourceType {
  const written = ROUTER_TRAITS[router].writes.find((kind) => kind.plural === 'trafficsplits');
  // Unreachable while smi.test.ts holds: every SMI row writes a TrafficSplit.
  if (written === undefined) throw new Error(`router ${router} writes no TrafficSplit in the router table`);
  return written;
}

/**
 * `spec.service` of the split: the apex Service, or for linkerd the first of `spec.service.hosts`
 * when set (the name Linkerd's proxies resolve), as Flagger does.
 */
export function splitServiceOf(canary: Canary, router: SmiRouterName): string {
  const firstHost = canary.spec.service?.hosts?.[0];
  return router === 'linkerd' && firstHost !== undefined && firstHost !== '' ? firstHost : apexNameOf(canary);
}

/** The two backends, canary first as Flagger orders them. */
export function splitBackends(canary: Canary, routes: Pick<Routes, 'primaryWeight' | 'canaryWeight'>) {
  const apex = apexNameOf(canary);
  return [
    { service: `${apex}-canary`, weight: routes.canaryWeight },
    { service: `${apex}-primary`, weight: routes.primaryWeight },
  ];
}

/** The annotations the router owns on the split: Flux kept off, and the Istio gateways if any. */
export function splitAnnotations(canary: Canary): Record<string, string> {
  const gateways = canary.spec.service?.gateways ?? [];
  return {
    ...FLUX_HANDS_OFF,
    ...(gateways.length === 0 ? {} : { [ISTIO_GATEWAYS_ANNOTATION]: JSON.stringify(gateways) }),
  };
}

const QUANTITY = /^\s*(\d+(?:\.\d+)?)\s*(m|k|M|G)?\s*$/;
const SCALE: Readonly<Record<string, number>> = { m: 1e-3, k: 1e3, M: 1e6, G: 1e9 };

/** A backend weight as a number: a JSON number, or a Quantity string (v1alpha1). */
export function parseSplitWeight(value: unknown, where: string): number {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  if (typeof value === 'string') {
    const parsed = QUANTITY.exec(value);
    if (parsed !== null) return Number(parsed[1]) * (parsed[2] === undefined ? 1 : SCALE[parsed[2]]!);
  }
  throw new SmiRouterError(
    'E_TRAFFICSPLIT_WEIGHT',
    `${where} is ${JSON.stringify(value)}, not a weight (a whole number, or a quantity such as "500m"); remove the backend and Vireo writes it again`,
  );
}

/**
 * The routes a split puts in force: each backend's share of the sum, in percent (Vireo writes
 * weights that sum to 100; a user's split of quantities such as 900m/100m reads as 90/10).
 * Throws when a backend is missing, since the weights would then be a guess.
 */
export function routesFromSplit(split: TrafficSplit, canary: Canary): Routes {
  const apex = apexNameOf(canary);
  const name = `TrafficSplit ${split.metadata.name}`;
  const backends = split.spec?.backends ?? [];
  const weightOf = (service: string): number | undefined => {
    const index = backends.findIndex((backend) => backend.service === service);
    if (index < 0) return undefined;
    return parseSplitWeight(backends[index]!.weight, `${name}: spec.backends[${index}].weight`);
  };
  const primary = weightOf(`${apex}-primary`);
  const canaryWeight = weightOf(`${apex}-canary`);
  if (primary === undefined || canaryWeight === undefined) {
    throw new SmiRouterError(
      'E_TRAFFICSPLIT_BACKENDS',
      `${name}: spec.backends must name ${apex}-primary and ${apex}-canary; found ${backends.map((backend) => backend.service).join(', ') || 'none'}. Vireo's reconcile writes them again on the next tick`,
    );
  }
  const total = primary + canaryWeight;
  const primaryWeight = total === 0 ? 100 : Math.round((primary * 100) / total);
  return { primaryWeight, canaryWeight: 100 - primaryWeight, mirrored: false };
}

export class SmiRouter implements MeshRouter {
  private readonly resource: ResourceType;

  constructor(
    private readonly deps: RouterDeps,
    private readonly router: SmiRouterName,
  ) {
    this.resource = trafficSplitResource(router);
  }

  /**
   * Creates the split at primary 100 / canary 0, or syncs its service, backend names and owned
   * annotations keeping the weights in force (a reconcile never moves traffic). Fields the user
   * or the mesh added (matches, other annotations) are left alone.
   */
  async reconcile(canary: Canary): Promise<void> {
    const namespace = namespaceOf(canary);
    const name = apexNameOf(canary);
    const current = await this.deps.reader.get<TrafficSplit>(this.resource, namespace, name);
    const service = splitServiceOf(canary, this.router);
    const annotations = splitAnnotations(canary);
    if (current === undefined) {
      const created: TrafficSplit = {
        apiVersion: `${this.resource.group}/${this.resource.version}`,
        kind: 'TrafficSplit',
        metadata: { name, namespace, annotations, ownerReferences: [canaryOwnerReference(canary)] },
        spec: { service, backends: splitBackends(canary, { primaryWeight: 100, canaryWeight: 0 }) },
      };
      try {
        await this.deps.client.create(this.resource, created);
      } catch (error) {
        // Not in the cache yet: the next reconcile reads it and syncs it.
        if (!isAlreadyExists(error)) throw error;
      }
      return;
    }
    let inForce: Pick<Routes, 'primaryWeight' | 'canaryWeight'>;
    try {
      inForce = routesFromSplit(current, canary);
    } catch (error) {
      // Backends renamed or unreadable: nothing routes to the canary, so start again from 100/0.
      if (!(error instanceof SmiRouterError)) throw error;
      inForce = { primaryWeight: 100, canaryWeight: 0 };
    }
    const ownedKeys = [...Object.keys(FLUX_HANDS_OFF), ISTIO_GATEWAYS_ANNOTATION];
    const patch = objectPatchOf(
      {
        metadata: { annotations: pickKeys(current.metadata.annotations, ownedKeys) },
        spec: { service: current.spec?.service, backends: current.spec?.backends },
      },
      { metadata: { annotations }, spec: { service, backends: splitBackends(canary, inForce) } },
    );
    if (patch !== undefined) await this.deps.client.mergePatch(this.resource, namespace, name, patch);
  }

  async getRoutes(canary: Canary): Promise<Routes> {
    return routesFromSplit(await this.readSplit(canary), canary);
  }

  /** The backend weights; SMI has no header matching or mirroring (the router table says so). */
  async setRoutes(canary: Canary, routes: Routes): Promise<void> {
    const split = await this.readSplit(canary);
    const patch = objectPatchOf(
      { backends: split.spec?.backends ?? [] },
      { backends: splitBackends(canary, routes) },
    );
    if (patch === undefined) return;
    await this.deps.client.mergePatch(this.resource, namespaceOf(canary), split.metadata.name, {
      spec: patch,
    });
  }

  /** The split is the Canary's: garbage collection removes it; nothing of the user's was changed. */
  finalize(): Promise<void> {
    return Promise.resolve();
  }

  private async readSplit(canary: Canary): Promise<TrafficSplit> {
    const namespace = namespaceOf(canary);
    const name = apexNameOf(canary);
    const split = await this.deps.reader.get<TrafficSplit>(this.resource, namespace, name);
    if (split === undefined) {
      throw new SmiRouterError(
        'E_TRAFFICSPLIT_NOT_FOUND',
        `Canary ${canary.metadata.name}.${namespace}: TrafficSplit ${name} (${this.resource.group}/${this.resource.version}) does not exist yet; the router's reconcile creates it, which the next tick retries`,
      );
    }
    return split;
  }
}

function pickKeys(
  map: Readonly<Record<string, string>> | undefined,
  keys: readonly string[],
): Record<string, string> {
  return Object.fromEntries(keys.filter((key) => map?.[key] !== undefined).map((key) => [key, map![key]!]));
}
