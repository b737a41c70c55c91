/**
 * The `kuma` provider (docs/routers/kuma.md): a Kuma TrafficRoute `<svc>` (kuma.io/v1alpha1).
 * TrafficRoutes are cluster-scoped, so it cannot carry an owner reference to the namespaced
 * Canary: an annotation names the Canary instead, a TrafficRoute another Canary owns is refused
 * rather than taken over, and finalize deletes it (nothing else would).
 */
import type { Canary } from '../../../api/schema/canary.js';
import {
  ALL_TO_PRIMARY,
  canaryName,
  createOrSync,
  generatedAnnotations,
  MeshRouterError,
  routesFromWeights,
  writtenResource,
  type MeshObject,
} from './mesh-objects.js';
import { apexNameOf, namespaceOf } from './objects.js';
import type { MeshRouter, RouterDeps, Routes } from './router.js';

export const KUMA_TRAFFIC_ROUTES = writtenResource('kuma', 'TrafficRoute');

/** On the Canary: the Kuma mesh its workloads belong to (default `default`), as Flagger reads it. */
export const KUMA_MESH_ANNOTATION = 'kuma.io/mesh';
/** On the TrafficRoute: `<canary>.<namespace>`, the Canary it belongs to. */
export const KUMA_OWNER_ANNOTATION = 'vireo.dev/canary';

/** Kuma's name for the service behind a Kubernetes Service port: `<name>_<namespace>_svc_<port>`. */
export const kumaServiceName = (name: string, canary: Canary): string =>
  `${name}_${namespaceOf(canary)}_svc_${canary.spec.service?.port ?? 0}`;

export const kumaMeshOf = (canary: Canary): string =>
  canary.metadata.annotations?.[KUMA_MESH_ANNOTATION] ?? 'default';

export function kumaTrafficRoute(canary: Canary, routes: Routes): MeshObject {
  const apex = apexNameOf(canary);
  return {
    apiVersion: 'kuma.io/v1alpha1',
    kind: 'TrafficRoute',
    mesh: kumaMeshOf(canary),
    metadata: {
      name: apex,
      annotations: { ...generatedAnnotations(), [KUMA_OWNER_ANNOTATION]: canaryName(canary) },
    },
    spec: {
      sources: [{ match: { 'kuma.io/service': '*' } }],
      destinations: [{ match: { 'kuma.io/service': kumaServiceName(apex, canary) } }],
      conf: {
        split: [
          {
            weight: routes.primaryWeight,
            destination: { 'kuma.io/service': kumaServiceName(`${apex}-primary`, canary) },
          },
          {
            weight: routes.canaryWeight,
            destination: { 'kuma.io/service': kumaServiceName(`${apex}-canary`, canary) },
          },
        ],
      },
    },
  };
}

export function kumaRoutesOf(route: MeshObject, canary: Canary): Routes {
  const split = (route.spec?.['conf'] as { split?: unknown } | undefined)?.split;
  const entries = Array.isArray(split)
    ? (split as { weight?: unknown; destination?: Record<string, unknown> }[])
    : [];
  const weightOf = (name: string): unknown =>
    entries.find((entry) => entry.destination?.['kuma.io/service'] === kumaServiceName(name, canary))?.weight;
  const apex = apexNameOf(canary);
  // Made inert by finalize (all to the apex service): a Canary re-created under the same name starts at 100/0.
  if (
    entries.length === 1 &&
    entries[0]?.destination?.['kuma.io/service'] === kumaServiceName(apex, canary)
  ) {
    return ALL_TO_PRIMARY;
  }
  return routesFromWeights(
    weightOf(`${apex}-primary`),
    weightOf(`${apex}-canary`),
    `TrafficRoute ${route.metadata.name} spec.conf.split`,
  );
}

export class KumaRouter implements MeshRouter {
  constructor(private readonly deps: RouterDeps) {}

  /** Creates the TrafficRoute at 100/0, or syncs its shape and mesh at the weights in force. */
  async reconcile(canary: Canary): Promise<void> {
    const current = await this.read(canary);
    const routes = current === undefined ? ALL_TO_PRIMARY : kumaRoutesOf(current, canary);
    await createOrSync(this.deps.client, KUMA_TRAFFIC_ROUTES, current, kumaTrafficRoute(canary, routes), [
      'mesh',
    ]);
  }

  async getRoutes(canary: Canary): Promise<Routes> {
    return kumaRoutesOf(await this.readExisting(canary), canary);
  }

  async setRoutes(canary: Canary, routes: Routes): Promise<void> {
    const current = await this.readExisting(canary);
    await createOrSync(this.deps.client, KUMA_TRAFFIC_ROUTES, current, kumaTrafficRoute(canary, routes), [
      'mesh',
    ]);
  }

  /**
   * revertOnDeletion: no garbage collection reaches a cluster-scoped object from a namespaced
   * owner, and the controller holds no delete right, so the TrafficRoute is made inert: it sends
   * the apex service's traffic to the apex service, which is Kuma's routing without it. Delete it
   * by hand once the Canary is gone (docs/routers/kuma.md).
   */
  async finalize(canary: Canary): Promise<void> {
    const current = await this.read(canary);
    if (current === undefined) return;
    const desired = kumaTrafficRoute(canary, ALL_TO_PRIMARY);
    const apexService = { 'kuma.io/service': kumaServiceName(apexNameOf(canary), canary) };
    desired.spec = { ...desired.spec, conf: { split: [{ weight: 100, destination: apexService }] } };
    await createOrSync(this.deps.client, KUMA_TRAFFIC_ROUTES, current, desired, ['mesh']);
  }

  /** The TrafficRoute of this Canary, or undefined; one of another Canary is E_MESH_CONFLICT. */
  private async read(canary: Canary): Promise<MeshObject | undefined> {
    const name = apexNameOf(canary);
    const route = await this.deps.reader.get<MeshObject>(KUMA_TRAFFIC_ROUTES, '', name);
    if (route === undefined) return undefined;
    const owner = route.metadata.annotations?.[KUMA_OWNER_ANNOTATION];
    if (owner !== canaryName(canary)) {
      throw new MeshRouterError(
        'E_MESH_CONFLICT',
        `Canary ${canaryName(canary)}: TrafficRoute ${name} (cluster-scoped) ${owner === undefined ? 'was not made by Vireo' : `belongs to Canary ${owner}`}; TrafficRoutes share one name space across namespaces, so set spec.service.name to a name no other canary uses, or delete that TrafficRoute`,
      );
    }
    return route;
  }

  private async readExisting(canary: Canary): Promise<MeshObject> {
    const route = await this.read(canary);
    if (route === undefined) {
      throw new MeshRouterError(
        'E_MESH_NOT_FOUND',
        `Canary ${canaryName(canary)}: TrafficRoute ${apexNameOf(canary)} does not exist yet; the router's reconcile creates it, and the next tick retries`,
      );
    }
    return route;
  }
}
