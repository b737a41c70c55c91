/**
 * The `traefik` provider (docs/routers/traefik.md): a weighted TraefikService `<svc>`
 * (traefik.io/v1alpha1) that the user's IngressRoute sends its traffic to. Its
 * `spec.weighted.services` holds `<svc>-primary` with the primary's weight, and `<svc>-canary`
 * with the canary's only while that weight is above 0, so Traefik never keeps a canary service
 * (and its metrics) in its configuration while the canary gets nothing. No A/B testing and no
 * mirroring: the router table says so (src/routers/traits.ts).
 *
 * The TraefikService is the Canary's when Vireo creates it. One the user made before the Canary
 * is taken over, with its spec saved in an annotation so revertOnDeletion puts it back
 * (docs/adr/0028-traefik-router.md).
 */
import type { Canary } from '../../../api/schema/canary.js';
import { ROUTER_TRAITS } from '../../../routers/traits.js';
import { VireoError } from '../../../shared/errors.js';
import type { KubeObject } from '../client.js';
import { isAlreadyExists } from '../errors.js';
import { canaryOwnerReference } from '../options.js';
import type { ResourceType } from '../resources.js';
import { apexNameOf, FLUX_HANDS_OFF, isOwnedByCanary, namespaceOf, objectPatchOf } from './objects.js';
import type { MeshRouter, RouterDeps, Routes } from './router.js';

export type TraefikRouterErrorCode = 'E_TRAEFIK_SERVICE' | 'E_TRAEFIK_WEIGHT';

export class TraefikRouterError extends VireoError {
  constructor(code: TraefikRouterErrorCode, message: string) {
    super(code, message);
  }
}

/** The one kind the router writes, from its row of the router table. */
export const TRAEFIK_SERVICES: ResourceType = ROUTER_TRAITS.traefik.writes[0]!;

/**
 * Where the spec of a TraefikService the user made is kept while Vireo routes through it: the
 * annotation Flagger uses for the same purpose on Istio's VirtualService, so the two agree.
 */
export const ORIGINAL_CONFIGURATION = 'flagger.kubernetes.io/original-configuration';

/** One entry of `spec.weighted.services`: a Kubernetes Service with its weight. */
export interface WeightedService {
  name: string;
  namespace?: string;
  port?: number | string;
  weight?: number;
  [field: string]: unknown;
}

export interface TraefikServiceSpec {
  weighted?: { services?: WeightedService[]; [field: string]: unknown };
  [field: string]: unknown;
}

export interface TraefikService extends KubeObject {
  spec?: TraefikServiceSpec;
}

/** The weighted services for `routes`: the primary always, the canary only while it gets traffic. */
export function weightedServices(
  canary: Canary,
  primaryWeight: number,
  canaryWeight: number,
): WeightedService[] {
  const apex = apexNameOf(canary);
  const namespace = namespaceOf(canary);
  const port = canary.spec.service?.port;
  const entry = (name: string, weight: number): WeightedService => ({
    name,
    namespace,
    ...(port === undefined ? {} : { port }),
    weight,
  });
  const services = [entry(`${apex}-primary`, primaryWeight)];
  if (canaryWeight > 0) services.push(entry(`${apex}-canary`, canaryWeight));
  return services;
}

function invalidWeight(service: TraefikService, entry: string, weight: unknown): TraefikRouterError {
  return new TraefikRouterError(
    'E_TRAEFIK_WEIGHT',
    `TraefikService ${service.metadata.name}: the weight of ${entry} in spec.weighted.services is ${JSON.stringify(weight)}, not a whole number from 0 to 100; remove the entry's weight and Vireo sets it again`,
  );
}

/** The weights the TraefikService puts in force; a missing canary entry means 0. */
export function routesFromTraefikService(service: TraefikService, canary: Canary): Routes {
  const apex = apexNameOf(canary);
  const entries = service.spec?.weighted?.services ?? [];
  const weightOf = (name: string): number | undefined => {
    const entry = entries.find((candidate) => candidate.name === name);
    if (entry === undefined) return undefined;
    // Traefik's own default for an entry without a weight.
    const weight = entry.weight ?? 1;
    if (!Number.isInteger(weight) || weight < 0 || weight > 100) throw invalidWeight(service, name, weight);
    return weight;
  };
  const primaryWeight = weightOf(`${apex}-primary`);
  if (primaryWeight === undefined) {
    throw new TraefikRouterError(
      'E_TRAEFIK_SERVICE',
      `TraefikService ${service.metadata.name} has no entry for ${apex}-primary in spec.weighted.services; Vireo puts it back at the next reconcile, or delete the TraefikService and Vireo creates it again`,
    );
  }
  const canaryWeight = weightOf(`${apex}-canary`) ?? 0;
  if (primaryWeight + canaryWeight !== 100) {
    // Someone else edited the weights: report the share the canary really gets.
    const total = primaryWeight + canaryWeight;
    const share = total === 0 ? 0 : Math.round((canaryWeight * 100) / total);
    return { primaryWeight: 100 - share, canaryWeight: share, mirrored: false };
  }
  return { primaryWeight, canaryWeight, mirrored: false };
}

/**
 * The spec the reconcile wants: the entries' names, namespace and port follow the Canary, the
 * weights in force stay (a reconcile never moves traffic). A TraefikService without a readable
 * weight for the primary starts again at 100/0.
 */
export function reconciledSpec(current: TraefikService | undefined, canary: Canary): TraefikServiceSpec {
  let routes: Routes = { primaryWeight: 100, canaryWeight: 0, mirrored: false };
  if (current !== undefined) {
    try {
      routes = routesFromTraefikService(current, canary);
    } catch (error) {
      if (!(error instanceof TraefikRouterError)) throw error;
    }
  }
  return { weighted: { services: weightedServices(canary, routes.primaryWeight, routes.canaryWeight) } };
}

const pickAnnotations = (service: TraefikService, keys: readonly string[]): Record<string, string> =>
  Object.fromEntries(
    keys
      .filter((key) => service.metadata.annotations?.[key] !== undefined)
      .map((key) => [key, service.metadata.annotations![key]!]),
  );

export class TraefikRouter implements MeshRouter {
  constructor(private readonly deps: RouterDeps) {}

  /**
   * Creates `<svc>` at 100/0, or keeps an existing one routing to this Canary's Services with
   * the weights in force. A TraefikService another owner made has its spec saved once, before
   * the first change, for finalize.
   */
  async reconcile(canary: Canary): Promise<void> {
    const namespace = namespaceOf(canary);
    const name = apexNameOf(canary);
    const current = await this.deps.reader.get<TraefikService>(TRAEFIK_SERVICES, namespace, name);
    const spec = reconciledSpec(current, canary);
    if (current === undefined) {
      const created: TraefikService = {
        apiVersion: 'traefik.io/v1alpha1',
        kind: 'TraefikService',
        metadata: {
          name,
          namespace,
          annotations: { ...FLUX_HANDS_OFF },
          ownerReferences: [canaryOwnerReference(canary)],
        },
        spec,
      };
      try {
        await this.deps.client.create(TRAEFIK_SERVICES, created);
      } catch (error) {
        // Not in the cache yet: the next reconcile reads it and syncs it.
        if (!isAlreadyExists(error)) throw error;
      }
      return;
    }
    const annotations: Record<string, string> = { ...FLUX_HANDS_OFF };
    const owned = isOwnedByCanary(current, canary);
    const saved = current.metadata.annotations?.[ORIGINAL_CONFIGURATION];
    if (!owned) annotations[ORIGINAL_CONFIGURATION] = saved ?? JSON.stringify(current.spec ?? {});
    const patch = objectPatchOf(
      {
        spec: current.spec ?? {},
        metadata: { annotations: pickAnnotations(current, Object.keys(annotations)) },
      },
      { spec, metadata: { annotations } },
    );
    if (patch !== undefined) await this.deps.client.mergePatch(TRAEFIK_SERVICES, namespace, name, patch);
  }

  async getRoutes(canary: Canary): Promise<Routes> {
    return routesFromTraefikService(await this.read(canary), canary);
  }

  /** Mirroring is not something this router does (the table says so): `routes.mirrored` is ignored. */
  async setRoutes(canary: Canary, routes: Routes): Promise<void> {
    const service = await this.read(canary);
    const desired = {
      ...service.spec,
      weighted: {
        ...service.spec?.weighted,
        services: weightedServices(canary, routes.primaryWeight, routes.canaryWeight),
      },
    };
    const patch = objectPatchOf({ spec: service.spec ?? {} }, { spec: desired });
    if (patch === undefined) return;
    await this.deps.client.mergePatch(TRAEFIK_SERVICES, namespaceOf(canary), service.metadata.name, patch);
  }

  /**
   * revertOnDeletion: a TraefikService the user made gets its saved spec back and loses the
   * annotations Vireo added (so Flux manages it again); one the Canary owns is left to garbage
   * collection.
   */
  async finalize(canary: Canary): Promise<void> {
    const namespace = namespaceOf(canary);
    const current = await this.deps.reader.get<TraefikService>(
      TRAEFIK_SERVICES,
      namespace,
      apexNameOf(canary),
    );
    if (current === undefined || isOwnedByCanary(current, canary)) return;
    const saved = current.metadata.annotations?.[ORIGINAL_CONFIGURATION];
    if (saved === undefined) return;
    let original: TraefikServiceSpec;
    try {
      original = JSON.parse(saved) as TraefikServiceSpec;
    } catch {
      throw new TraefikRouterError(
        'E_TRAEFIK_SERVICE',
        `TraefikService ${current.metadata.name}: annotation ${ORIGINAL_CONFIGURATION} is not the JSON spec Vireo saved; restore the spec by hand and remove the annotation`,
      );
    }
    const added = [ORIGINAL_CONFIGURATION, ...Object.keys(FLUX_HANDS_OFF)];
    const patch = objectPatchOf(
      { spec: current.spec ?? {}, metadata: { annotations: pickAnnotations(current, added) } },
      { spec: original, metadata: { annotations: {} } },
    );
    if (patch !== undefined)
      await this.deps.client.mergePatch(TRAEFIK_SERVICES, namespace, current.metadata.name, patch);
  }

  private async read(canary: Canary): Promise<TraefikService> {
    const namespace = namespaceOf(canary);
    const name = apexNameOf(canary);
    const service = await this.deps.reader.get<TraefikService>(TRAEFIK_SERVICES, namespace, name);
    if (service === undefined) {
      throw new TraefikRouterError(
        'E_TRAEFIK_SERVICE',
        `Canary ${canary.metadata.name}.${namespace}: TraefikService ${name} does not exist yet; it is created by the router's reconcile, which the next tick retries`,
      );
    }
    return service;
  }
}
