/**
 * The `istio` provider (docs/routers/istio.md): DestinationRules `<svc>-primary` and
 * `<svc>-canary` carrying `service.trafficPolicy`, and the VirtualService `<svc>` whose routes
 * split, match, mirror and pin traffic between them. The objects are built by istio-spec.ts;
 * this class reads and writes them.
 *
 * API version: networking.istio.io serves v1, v1beta1 and v1alpha3 from one schema on current
 * Istio; the router writes v1 when the cluster serves it, else v1beta1 (docs/routers/istio.md
 * "API versions"), found by discovery once per router and asked again until it succeeds.
 */
import type { Canary } from '../../../api/schema/canary.js';
import type { KubeObject } from '../client.js';
import { isAlreadyExists } from '../errors.js';
import { canaryOwnerReference } from '../options.js';
import type { ResourceType } from '../resources.js';
import {
  destinationRuleSpecs,
  IstioRouterError,
  ORIGINAL_CONFIGURATION,
  originalSpecOf,
  routesOf,
  virtualServiceSpec,
  type DestinationRule,
  type VirtualService,
  type VirtualServiceSpec,
} from './istio-spec.js';
import {
  apexNameOf,
  FLUX_HANDS_OFF,
  isFluxKey,
  isOwnedByCanary,
  KUBECTL_LAST_APPLIED,
  namespaceOf,
  objectPatchOf,
  withoutKeys,
} from './objects.js';
import type { AffinityCookies, MeshRouter, RouterDeps, Routes } from './router.js';

export { IstioRouterError } from './istio-spec.js';

export const ISTIO_GROUP = 'networking.istio.io';
/** The versions Vireo writes, in order of preference. v1alpha3 has the same schema but is left for Istio to drop. */
export const ISTIO_WRITE_VERSIONS = ['v1', 'v1beta1'] as const;

export interface IstioResources {
  readonly virtualServices: ResourceType;
  readonly destinationRules: ResourceType;
}

export function istioResources(version: string): IstioResources {
  return {
    virtualServices: {
      group: ISTIO_GROUP,
      version,
      plural: 'virtualservices',
      kind: 'VirtualService',
      namespaced: true,
    },
    destinationRules: {
      group: ISTIO_GROUP,
      version,
      plural: 'destinationrules',
      kind: 'DestinationRule',
      namespaced: true,
    },
  };
}

/**
 * The version to write: the first of v1 and v1beta1 serving both kinds (discovery is per group
 * version: other kinds of the group, such as EnvoyFilter, may be served at versions these are
 * not). An error naming what is served otherwise.
 */
export function istioWriteVersion(servedResources: Readonly<Record<string, readonly string[]>>): string {
  const serves = (version: string): boolean =>
    ['virtualservices', 'destinationrules'].every((plural) => servedResources[version]?.includes(plural));
  const version = ISTIO_WRITE_VERSIONS.find(serves);
  if (version !== undefined) return version;
  const partly = Object.entries(servedResources).filter(([, names]) => names.length > 0);
  throw new IstioRouterError(
    'E_ISTIO_API',
    partly.length === 0
      ? `the cluster serves no ${ISTIO_GROUP} API: install Istio (or at least its CRDs) before running canaries with the istio provider`
      : `the cluster serves VirtualService and DestinationRule at none of ${ISTIO_GROUP}/${ISTIO_WRITE_VERSIONS.join(', ')}; Vireo writes those versions: install or upgrade Istio's CRDs`,
  );
}

const ALL_TO_PRIMARY: Routes = { primaryWeight: 100, canaryWeight: 0, mirrored: false };

/** The session-affinity cookies in the canary's status, as the engine hands them to setRoutes. */
function statusCookies(canary: Canary): AffinityCookies {
  const status = canary.status;
  return {
    ...(status?.sessionAffinityCookie === undefined ? {} : { canary: status.sessionAffinityCookie }),
    ...(status?.primarySessionAffinityCookie === undefined
      ? {}
      : { primary: status.primarySessionAffinityCookie }),
    ...(status?.previousSessionAffinityCookie === undefined
      ? {}
      : { previous: status.previousSessionAffinityCookie }),
  };
}

/** The labels and annotations Vireo puts on its Istio objects: `service.apex`'s, and Flux kept off. */
function metadataOf(canary: Canary): { labels: Record<string, string>; annotations: Record<string, string> } {
  const apex = canary.spec.service?.apex;
  return {
    labels: withoutKeys(apex?.labels, isFluxKey),
    annotations: { ...withoutKeys(apex?.annotations, isFluxKey), ...FLUX_HANDS_OFF },
  };
}

/** The values `map` has for `keys` (what a merge patch of those keys compares against). */
function pick(
  map: Readonly<Record<string, string>> | undefined,
  keys: readonly string[],
): Record<string, string> {
  return Object.fromEntries(keys.filter((key) => map?.[key] !== undefined).map((key) => [key, map![key]!]));
}

export class IstioRouter implements MeshRouter {
  private resources: IstioResources | undefined;

  constructor(private readonly deps: RouterDeps) {}

  /**
   * Creates the DestinationRules and the VirtualService, or brings them in line with the Canary
   * while keeping the routes in force: the weights and mirror are read back from the live
   * VirtualService, the affinity cookies come from the canary's status, so a reconcile in the
   * middle of an analysis moves no traffic. The first time an adopted VirtualService (one the
   * user made, without kubectl's record) is rewritten, its spec is kept in
   * `flagger.kubernetes.io/original-configuration` for revertOnDeletion.
   */
  async reconcile(canary: Canary): Promise<void> {
    const resources = await this.resolve();
    for (const { name, spec } of destinationRuleSpecs(canary)) {
      await this.syncDestinationRule(canary, resources.destinationRules, name, spec);
    }
    const namespace = namespaceOf(canary);
    const name = apexNameOf(canary);
    const metadata = metadataOf(canary);
    const current = await this.deps.reader.get<VirtualService>(resources.virtualServices, namespace, name);
    if (current === undefined) {
      const created: VirtualService = {
        apiVersion: `${ISTIO_GROUP}/${resources.virtualServices.version}`,
        kind: 'VirtualService',
        metadata: { name, namespace, ...metadata, ownerReferences: [canaryOwnerReference(canary)] },
        spec: virtualServiceSpec(canary, ALL_TO_PRIMARY, statusCookies(canary)),
      };
      await this.createIfMissing(resources.virtualServices, created);
      return;
    }
    const inForce = routesOf(current.spec, canary) ?? ALL_TO_PRIMARY;
    const spec = virtualServiceSpec(canary, inForce, statusCookies(canary));
    const annotations = current.metadata.annotations ?? {};
    const specPatch = objectPatchOf(current.spec ?? {}, spec);
    const keepOriginal =
      specPatch !== undefined &&
      !isOwnedByCanary(current, canary) &&
      annotations[KUBECTL_LAST_APPLIED] === undefined &&
      annotations[ORIGINAL_CONFIGURATION] === undefined;
    const wantAnnotations = {
      ...metadata.annotations,
      ...(keepOriginal ? { [ORIGINAL_CONFIGURATION]: JSON.stringify(current.spec ?? {}) } : {}),
    };
    // Labels and annotations are only added or updated: an adopted VirtualService keeps its own.
    const metadataPatch = objectPatchOf(
      {
        labels: pick(current.metadata.labels, Object.keys(metadata.labels)),
        annotations: pick(annotations, Object.keys(wantAnnotations)),
      },
      { labels: metadata.labels, annotations: wantAnnotations },
    );
    if (specPatch === undefined && metadataPatch === undefined) return;
    await this.deps.client.mergePatch(resources.virtualServices, namespace, name, {
      ...(metadataPatch === undefined ? {} : { metadata: metadataPatch }),
      ...(specPatch === undefined ? {} : { spec: specPatch }),
    });
  }

  async getRoutes(canary: Canary): Promise<Routes> {
    const virtualService = await this.readVirtualService(canary);
    const routes = routesOf(virtualService.spec, canary);
    if (routes === undefined) {
      throw new IstioRouterError(
        'E_ISTIO_NOT_FOUND',
        `VirtualService ${virtualService.metadata.name}.${namespaceOf(canary)} has no route to both ${apexNameOf(canary)}-primary and ${apexNameOf(canary)}-canary; the router's reconcile rewrites it on the next tick`,
      );
    }
    return routes;
  }

  async setRoutes(canary: Canary, routes: Routes, cookies?: AffinityCookies): Promise<void> {
    const virtualService = await this.readVirtualService(canary);
    const spec = virtualServiceSpec(canary, routes, cookies);
    const patch = objectPatchOf(virtualService.spec ?? {}, spec);
    if (patch === undefined) return;
    const resources = await this.resolve();
    await this.deps.client.mergePatch(
      resources.virtualServices,
      namespaceOf(canary),
      virtualService.metadata.name,
      {
        spec: patch,
      },
    );
  }

  /**
   * revertOnDeletion: a VirtualService the user made gets its own spec back, from kubectl's
   * record or from the annotation reconcile saved, and loses that annotation. Objects the Canary
   * owns (the DestinationRules, a VirtualService Vireo created) go with it by garbage collection.
   */
  async finalize(canary: Canary): Promise<void> {
    const resources = await this.resolve();
    const namespace = namespaceOf(canary);
    const current = await this.deps.reader.get<VirtualService>(
      resources.virtualServices,
      namespace,
      apexNameOf(canary),
    );
    if (current === undefined || isOwnedByCanary(current, canary)) return;
    const original: VirtualServiceSpec | undefined = originalSpecOf(current, KUBECTL_LAST_APPLIED);
    if (original === undefined) return;
    const specPatch = objectPatchOf(current.spec ?? {}, original);
    const dropSaved = current.metadata.annotations?.[ORIGINAL_CONFIGURATION] !== undefined;
    if (specPatch === undefined && !dropSaved) return;
    await this.deps.client.mergePatch(resources.virtualServices, namespace, current.metadata.name, {
      ...(dropSaved ? { metadata: { annotations: { [ORIGINAL_CONFIGURATION]: null } } } : {}),
      ...(specPatch === undefined ? {} : { spec: specPatch }),
    });
  }

  private async syncDestinationRule(
    canary: Canary,
    resource: ResourceType,
    name: string,
    spec: DestinationRule['spec'] & object,
  ): Promise<void> {
    const namespace = namespaceOf(canary);
    const current = await this.deps.reader.get<DestinationRule>(resource, namespace, name);
    if (current === undefined) {
      await this.createIfMissing(resource, {
        apiVersion: `${ISTIO_GROUP}/${resource.version}`,
        kind: 'DestinationRule',
        metadata: {
          name,
          namespace,
          annotations: FLUX_HANDS_OFF,
          ownerReferences: [canaryOwnerReference(canary)],
        },
        spec,
      });
      return;
    }
    const patch = objectPatchOf(
      {
        spec: current.spec ?? {},
        metadata: { annotations: pick(current.metadata.annotations, Object.keys(FLUX_HANDS_OFF)) },
      },
      { spec, metadata: { annotations: FLUX_HANDS_OFF } },
    );
    if (patch !== undefined) await this.deps.client.mergePatch(resource, namespace, name, patch);
  }

  private async createIfMissing(resource: ResourceType, object: KubeObject): Promise<void> {
    try {
      await this.deps.client.create(resource, object);
    } catch (error) {
      // Not in the cache yet: the next reconcile reads it and brings it in line.
      if (!isAlreadyExists(error)) throw error;
    }
  }

  private async readVirtualService(canary: Canary): Promise<VirtualService> {
    const resources = await this.resolve();
    const namespace = namespaceOf(canary);
    const name = apexNameOf(canary);
    const virtualService = await this.deps.reader.get<VirtualService>(
      resources.virtualServices,
      namespace,
      name,
    );
    if (virtualService === undefined) {
      throw new IstioRouterError(
        'E_ISTIO_NOT_FOUND',
        `Canary ${canary.metadata.name}.${namespace}: VirtualService ${name} does not exist yet; it is created by the router's reconcile, which the next tick retries`,
      );
    }
    return virtualService;
  }

  /** The resources at the version to write, discovered once (a failure is asked again next time). */
  private async resolve(): Promise<IstioResources> {
    if (this.resources === undefined) {
      const served: Record<string, string[]> = {};
      for (const version of ISTIO_WRITE_VERSIONS) {
        const names = await this.deps.client.servedResources(ISTIO_GROUP, version);
        served[version] = names;
        // The preferred version serves both kinds: the next one need not be asked about.
        if (names.includes('virtualservices') && names.includes('destinationrules')) break;
      }
      this.resources = istioResources(istioWriteVersion(served));
    }
    return this.resources;
  }
}
