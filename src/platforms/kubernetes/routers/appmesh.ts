/**
 * The `appmesh` provider (docs/routers/appmesh.md): AWS App Mesh through the first, v1beta1 API
 * of its Kubernetes controller (Flagger's `appmesh`; `appmesh:v1beta2` is appmesh-v1beta2.ts).
 * VirtualNodes `<svc>-primary` and `<svc>-canary` in mesh `spec.service.meshName`; the
 * VirtualService `<svc>.<ns>` holds its router and the weighted routes (v1beta1 has no separate
 * VirtualRouter kind), and `<svc>-canary.<ns>` always reaches the canary. No official v1beta1 CRD
 * with a schema is obtainable, so these objects are checked by unit tests only (docs/routers/appmesh.md).
 */
import type { Canary } from '../../../api/schema/canary.js';
import { analysisOf } from '../../../engine/settings.js';
import { canaryOwnerReference } from '../options.js';
import {
  AB_PRIORITIES,
  appMeshHeaders,
  appMeshProtocolOf,
  appMeshRetryPolicy,
  appMeshRoutesOf,
  portMappingOf,
} from './appmesh-v1beta2.js';
import {
  ALL_TO_PRIMARY,
  canaryName,
  createOrSync,
  generatedAnnotations,
  isAbTesting,
  MeshRouterError,
  writtenResource,
  type MeshObject,
} from './mesh-objects.js';
import { apexNameOf, namespaceOf } from './objects.js';
import type { MeshRouter, RouterDeps, Routes } from './router.js';

export const APPMESH_V1BETA1_NODES = writtenResource('appmesh', 'VirtualNode');
export const APPMESH_V1BETA1_SERVICES = writtenResource('appmesh', 'VirtualService');

export const appMeshV1beta1ServiceName = (canary: Canary, name: string): string =>
  `${name}.${namespaceOf(canary)}`;

function meshNameOf(canary: Canary): string {
  const meshName = canary.spec.service?.meshName;
  if (meshName === undefined || meshName === '') {
    throw new MeshRouterError(
      'E_MESH_REF',
      `Canary ${canaryName(canary)}: the appmesh provider (App Mesh v1beta1) needs spec.service.meshName naming the mesh; set it, or use appmesh:v1beta2, where the mesh comes from the namespace`,
    );
  }
  return meshName;
}

const metadataOf = (canary: Canary, name: string) => ({
  name,
  namespace: namespaceOf(canary),
  annotations: generatedAnnotations(),
  ownerReferences: [canaryOwnerReference(canary)],
});

export function appMeshV1beta1Node(canary: Canary, side: 'primary' | 'canary'): MeshObject {
  const name = `${apexNameOf(canary)}-${side}`;
  const backends = canary.spec.service?.backends ?? [];
  return {
    apiVersion: 'appmesh.k8s.aws/v1beta1',
    kind: 'VirtualNode',
    metadata: metadataOf(canary, name),
    spec: {
      meshName: meshNameOf(canary),
      listeners: [{ portMapping: portMappingOf(canary) }],
      serviceDiscovery: { dns: { hostName: `${name}.${namespaceOf(canary)}` } },
      ...(backends.length === 0
        ? {}
        : { backends: backends.map((backend) => ({ virtualService: { virtualServiceName: backend } })) }),
    },
  };
}

/** v1beta1's retry policy: the same events, with the timeout in `perRetryTimeoutMillis`. */
function v1beta1RetryPolicy(canary: Canary): Record<string, unknown> | undefined {
  const policy = appMeshRetryPolicy(canary);
  if (policy === undefined) return undefined;
  const { perRetryTimeout, ...rest } = policy as { perRetryTimeout: { value: number } };
  return { ...rest, perRetryTimeoutMillis: perRetryTimeout.value };
}

function v1beta1Route(
  canary: Canary,
  name: string,
  targets: readonly { node: string; weight: number }[],
  headers: ReturnType<typeof appMeshHeaders> | undefined,
  priority: number | undefined,
): Record<string, unknown> {
  const action = {
    weightedTargets: targets.map((target) => ({ virtualNodeName: target.node, weight: target.weight })),
  };
  const retryPolicy = v1beta1RetryPolicy(canary);
  const kind = appMeshProtocolOf(canary) === 'grpc' ? 'grpc' : 'http';
  const match =
    kind === 'grpc'
      ? headers === undefined
        ? {}
        : { metadata: headers }
      : { prefix: '/', ...(headers === undefined ? {} : { headers }) };
  return {
    name,
    ...(priority === undefined ? {} : { priority }),
    [kind]: { match, action, ...(retryPolicy === undefined ? {} : { retryPolicy }) },
  };
}

/** The routes of the apex VirtualService: weighted, or the A/B pair `<svc>-a` and `<svc>-b`. */
export function appMeshV1beta1Routes(canary: Canary, routes: Routes): Record<string, unknown>[] {
  const apex = apexNameOf(canary);
  const split = (canaryWeight: number, primaryWeight: number) => [
    { node: `${apex}-canary`, weight: canaryWeight },
    { node: `${apex}-primary`, weight: primaryWeight },
  ];
  if (!isAbTesting(canary)) {
    return [
      v1beta1Route(canary, apex, split(routes.canaryWeight, routes.primaryWeight), undefined, undefined),
    ];
  }
  const headers = appMeshHeaders(analysisOf(canary.spec)?.match ?? []);
  return [
    v1beta1Route(
      canary,
      `${apex}-a`,
      split(routes.canaryWeight, routes.primaryWeight),
      headers,
      AB_PRIORITIES.headers,
    ),
    v1beta1Route(canary, `${apex}-b`, split(0, 100), undefined, AB_PRIORITIES.rest),
  ];
}

export function appMeshV1beta1Service(
  canary: Canary,
  name: string,
  routes: Record<string, unknown>[],
): MeshObject {
  return {
    apiVersion: 'appmesh.k8s.aws/v1beta1',
    kind: 'VirtualService',
    metadata: metadataOf(canary, appMeshV1beta1ServiceName(canary, name)),
    spec: {
      meshName: meshNameOf(canary),
      virtualRouter: { name: `${name}-router` },
      routes,
    },
  };
}

export class AppMeshRouter implements MeshRouter {
  constructor(private readonly deps: RouterDeps) {}

  async reconcile(canary: Canary): Promise<void> {
    const apex = apexNameOf(canary);
    const namespace = namespaceOf(canary);
    for (const side of ['primary', 'canary'] as const) {
      const desired = appMeshV1beta1Node(canary, side);
      const live = await this.deps.reader.get<MeshObject>(
        APPMESH_V1BETA1_NODES,
        namespace,
        desired.metadata.name,
      );
      await createOrSync(this.deps.client, APPMESH_V1BETA1_NODES, live, desired);
    }
    const canaryOnly = appMeshV1beta1Service(canary, `${apex}-canary`, [
      v1beta1Route(canary, `${apex}-canary`, [{ node: `${apex}-canary`, weight: 100 }], undefined, undefined),
    ]);
    const liveCanary = await this.deps.reader.get<MeshObject>(
      APPMESH_V1BETA1_SERVICES,
      namespace,
      canaryOnly.metadata.name,
    );
    await createOrSync(this.deps.client, APPMESH_V1BETA1_SERVICES, liveCanary, canaryOnly);
    const current = await this.deps.reader.get<MeshObject>(
      APPMESH_V1BETA1_SERVICES,
      namespace,
      appMeshV1beta1ServiceName(canary, apex),
    );
    const routes = current === undefined ? ALL_TO_PRIMARY : this.routesOf(current, canary);
    await createOrSync(
      this.deps.client,
      APPMESH_V1BETA1_SERVICES,
      current,
      appMeshV1beta1Service(canary, apex, appMeshV1beta1Routes(canary, routes)),
    );
  }

  async getRoutes(canary: Canary): Promise<Routes> {
    return this.routesOf(await this.readApexService(canary), canary);
  }

  async setRoutes(canary: Canary, routes: Routes): Promise<void> {
    const current = await this.readApexService(canary);
    await createOrSync(
      this.deps.client,
      APPMESH_V1BETA1_SERVICES,
      current,
      appMeshV1beta1Service(canary, apexNameOf(canary), appMeshV1beta1Routes(canary, routes)),
    );
  }

  /** Every App Mesh object is the Canary's: garbage collection removes them. */
  finalize(): Promise<void> {
    return Promise.resolve();
  }

  private routesOf(service: MeshObject, canary: Canary): Routes {
    return appMeshRoutesOf(
      service.spec?.['routes'],
      canary,
      `VirtualService ${service.metadata.name} spec.routes[0]`,
    );
  }

  private async readApexService(canary: Canary): Promise<MeshObject> {
    const name = appMeshV1beta1ServiceName(canary, apexNameOf(canary));
    const service = await this.deps.reader.get<MeshObject>(
      APPMESH_V1BETA1_SERVICES,
      namespaceOf(canary),
      name,
    );
    if (service === undefined) {
      throw new MeshRouterError(
        'E_MESH_NOT_FOUND',
        `Canary ${canaryName(canary)}: VirtualService ${name} does not exist yet; the router's reconcile creates it, and the next tick retries`,
      );
    }
    return service;
  }
}
