/**
 * The `appmesh:v1beta2` provider (docs/routers/appmesh.md): AWS App Mesh through its Kubernetes
 * controller's v1beta2 API. VirtualNodes `<svc>-primary` and `<svc>-canary` select the pods of
 * the `-primary` and `-canary` Services; the VirtualRouter `<svc>` splits between them (with the
 * Canary's retries, timeout and A/B header routes) behind the VirtualService `<svc>`, and the
 * VirtualRouter and VirtualService `<svc>-canary` always reach the canary, for tests and load.
 * Everything is the Canary's. The helpers shared with the v1beta1 API (appmesh.ts) live here.
 */
import type { AnalysisMatch, Canary } from '../../../api/schema/canary.js';
import { parseGoDuration } from '../../../api/duration.js';
import { analysisOf } from '../../../engine/settings.js';
import { canaryOwnerReference } from '../options.js';
import { RESOURCES } from '../resources.js';
import {
  ALL_TO_PRIMARY,
  canaryName,
  createOrSync,
  generatedAnnotations,
  isAbTesting,
  MeshRouterError,
  routesFromWeights,
  writtenResource,
  type MeshObject,
} from './mesh-objects.js';
import { apexNameOf, namespaceOf } from './objects.js';
import type { MeshRouter, RouterDeps, Routes } from './router.js';
import type { Service } from './types.js';

export const APPMESH_V1BETA2_NODES = writtenResource('appmesh:v1beta2', 'VirtualNode');
export const APPMESH_V1BETA2_ROUTERS = writtenResource('appmesh:v1beta2', 'VirtualRouter');
export const APPMESH_V1BETA2_SERVICES = writtenResource('appmesh:v1beta2', 'VirtualService');

/** App Mesh's HTTP retry events; anything else in `retries.retryOn` has no App Mesh equivalent. */
const HTTP_RETRY_EVENTS = ['server-error', 'gateway-error', 'client-error', 'stream-error'] as const;
/**
 * What `retries` means when a field is left out, as Flagger fills it in: one attempt, 250 ms per
 * attempt, on gateway errors.
 */
const RETRY_DEFAULTS = { attempts: 1, perRetryMs: 250, events: ['gateway-error'] } as const;
/** Priorities of the A/B routes: the header route first, then everything else. */
export const AB_PRIORITIES = { headers: 10, rest: 20 } as const;

/** Annotations of Flagger's App Mesh gateway, on the apex VirtualService when `service.hosts` is set. */
export const APPMESH_GATEWAY = 'gateway.appmesh.k8s.aws';

export type AppMeshProtocol = 'http' | 'grpc';

/** gRPC when the port's name says so (`grpc`, `grpc-web`…), as Flagger decides; HTTP otherwise. */
export const appMeshProtocolOf = (canary: Canary): AppMeshProtocol =>
  (canary.spec.service?.portName ?? '').includes('grpc') ? 'grpc' : 'http';

export const portMappingOf = (canary: Canary) => ({
  port: canary.spec.service?.port ?? 0,
  protocol: appMeshProtocolOf(canary),
});

const durationMs = (value: string, field: string, canary: Canary): number => {
  const ms = parseGoDuration(value);
  if (ms === undefined || ms < 0) {
    throw new MeshRouterError(
      'E_MESH_SPEC',
      `Canary ${canaryName(canary)}: ${field} is "${value}", not a duration App Mesh can use; write it like 15s or 500ms`,
    );
  }
  return Math.round(ms);
};

/**
 * `spec.service.retries` as an App Mesh retry policy, or undefined without retries. `retryOn`
 * keeps the events App Mesh knows (the CRD refuses others); `connection-error` becomes its TCP
 * retry event.
 */
export function appMeshRetryPolicy(canary: Canary): Record<string, unknown> | undefined {
  const retries = canary.spec.service?.retries;
  if (retries === undefined) return undefined;
  const asked = (retries.retryOn ?? '').split(',').map((event) => event.trim());
  const httpEvents = HTTP_RETRY_EVENTS.filter((event) => asked.includes(event));
  return {
    maxRetries:
      retries.attempts !== undefined && retries.attempts > 0 ? retries.attempts : RETRY_DEFAULTS.attempts,
    perRetryTimeout: {
      unit: 'ms',
      value:
        retries.perTryTimeout === undefined
          ? RETRY_DEFAULTS.perRetryMs
          : durationMs(retries.perTryTimeout, 'spec.service.retries.perTryTimeout', canary),
    },
    httpRetryEvents: httpEvents.length > 0 ? httpEvents : [...RETRY_DEFAULTS.events],
    ...(asked.includes('connection-error') ? { tcpRetryEvents: ['connection-error'] } : {}),
  };
}

/** `spec.service.timeout` as an App Mesh route timeout, or undefined. */
export function appMeshTimeout(canary: Canary): Record<string, unknown> | undefined {
  const timeout = canary.spec.service?.timeout;
  if (timeout === undefined) return undefined;
  return { perRequest: { unit: 'ms', value: durationMs(timeout, 'spec.service.timeout', canary) } };
}

/** The headers of `analysis.match` as App Mesh header matches (all four operators exist). */
export function appMeshHeaders(
  matches: readonly AnalysisMatch[],
): { name: string; match: Record<string, string> }[] {
  return matches.flatMap((match, index) =>
    Object.entries(match.headers ?? {}).map(([name, condition]) => {
      const [operator, value] =
        Object.entries(condition).find(([, operand]) => typeof operand === 'string' && operand !== '') ?? [];
      if (operator === undefined || value === undefined) {
        throw new MeshRouterError(
          'E_MESH_MATCH',
          `spec.analysis.match[${index}].headers.${name}: App Mesh needs a non-empty exact, prefix, suffix or regex`,
        );
      }
      return { name, match: { [operator]: value } };
    }),
  );
}

export interface WeightedNode {
  readonly node: string;
  readonly weight: number;
}

/** The listener's route kind, with a match on `headers` when given. */
function routeSpec(
  canary: Canary,
  targets: readonly WeightedNode[],
  headers: ReturnType<typeof appMeshHeaders> | undefined,
  withPolicies: boolean,
): Record<string, unknown> {
  const action = {
    weightedTargets: targets.map((target) => ({
      virtualNodeRef: { name: target.node },
      weight: target.weight,
    })),
  };
  const policies = withPolicies
    ? { retryPolicy: appMeshRetryPolicy(canary), timeout: appMeshTimeout(canary) }
    : {};
  const defined = (record: Record<string, unknown>) =>
    Object.fromEntries(Object.entries(record).filter(([, value]) => value !== undefined));
  if (appMeshProtocolOf(canary) === 'grpc') {
    const metadata = headers?.map((header) => ({ name: header.name, match: header.match }));
    return { grpcRoute: defined({ match: metadata === undefined ? {} : { metadata }, action, ...policies }) };
  }
  return {
    httpRoute: defined({
      match: { prefix: '/', ...(headers === undefined ? {} : { headers }) },
      action,
      ...policies,
    }),
  };
}

/**
 * The apex VirtualRouter's routes: one weighted route `<svc>` (canary C, primary P), or for A/B
 * `<svc>-a` (the match headers, at C/P) before `<svc>-b` (everything else to the primary).
 */
export function appMeshRoutes(canary: Canary, routes: Routes): Record<string, unknown>[] {
  const apex = apexNameOf(canary);
  const split = (canaryWeight: number, primaryWeight: number): WeightedNode[] => [
    { node: `${apex}-canary`, weight: canaryWeight },
    { node: `${apex}-primary`, weight: primaryWeight },
  ];
  if (!isAbTesting(canary)) {
    return [
      { name: apex, ...routeSpec(canary, split(routes.canaryWeight, routes.primaryWeight), undefined, true) },
    ];
  }
  const headers = appMeshHeaders(analysisOf(canary.spec)?.match ?? []);
  return [
    {
      name: `${apex}-a`,
      priority: AB_PRIORITIES.headers,
      ...routeSpec(canary, split(routes.canaryWeight, routes.primaryWeight), headers, true),
    },
    { name: `${apex}-b`, priority: AB_PRIORITIES.rest, ...routeSpec(canary, split(0, 100), undefined, true) },
  ];
}

/** The weights of the first route of a VirtualRouter (v1beta2 `virtualNodeRef`, v1beta1 `virtualNodeName`). */
export function appMeshRoutesOf(routesField: unknown, canary: Canary, where: string): Routes {
  const first = (Array.isArray(routesField) ? routesField : [])[0] as Record<string, unknown> | undefined;
  const route = (first?.['httpRoute'] ?? first?.['grpcRoute'] ?? first?.['http'] ?? first?.['grpc']) as
    { action?: { weightedTargets?: Record<string, unknown>[] } } | undefined;
  const targets = route?.action?.weightedTargets ?? [];
  const weightOf = (node: string): unknown =>
    targets.find(
      (target) =>
        (target['virtualNodeRef'] as { name?: string } | undefined)?.name === node ||
        target['virtualNodeName'] === node,
    )?.weight;
  const apex = apexNameOf(canary);
  return routesFromWeights(weightOf(`${apex}-primary`), weightOf(`${apex}-canary`), where);
}

/** The gateway annotations for `service.hosts` (none without hosts). */
export function appMeshGatewayAnnotations(canary: Canary): Record<string, string> {
  const service = canary.spec.service;
  const hosts = service?.hosts ?? [];
  if (hosts.length === 0) return {};
  return {
    [`${APPMESH_GATEWAY}/expose`]: 'true',
    [`${APPMESH_GATEWAY}/domain`]: hosts.join(','),
    ...(service?.timeout === undefined ? {} : { [`${APPMESH_GATEWAY}/timeout`]: service.timeout }),
    ...(service?.retries?.attempts === undefined
      ? {}
      : { [`${APPMESH_GATEWAY}/retries`]: String(service.retries.attempts) }),
  };
}

const metadataOf = (canary: Canary, name: string, annotations: Record<string, string> = {}) => ({
  name,
  namespace: namespaceOf(canary),
  annotations: { ...generatedAnnotations(), ...annotations },
  ownerReferences: [canaryOwnerReference(canary)],
});

export function appMeshV1beta2Node(
  canary: Canary,
  side: 'primary' | 'canary',
  selector: Record<string, string>,
): MeshObject {
  const name = `${apexNameOf(canary)}-${side}`;
  const backends = canary.spec.service?.backends ?? [];
  return {
    apiVersion: 'appmesh.k8s.aws/v1beta2',
    kind: 'VirtualNode',
    metadata: metadataOf(canary, name),
    spec: {
      podSelector: { matchLabels: selector },
      listeners: [{ portMapping: portMappingOf(canary) }],
      serviceDiscovery: { dns: { hostname: `${name}.${namespaceOf(canary)}.svc.cluster.local` } },
      ...(backends.length === 0
        ? {}
        : {
            backends: backends.map((backend) => ({
              virtualService: backend.startsWith('arn:')
                ? { virtualServiceARN: backend }
                : { virtualServiceRef: { name: backend } },
            })),
          }),
    },
  };
}

export function appMeshV1beta2Router(
  canary: Canary,
  name: string,
  routes: Record<string, unknown>[],
): MeshObject {
  return {
    apiVersion: 'appmesh.k8s.aws/v1beta2',
    kind: 'VirtualRouter',
    metadata: metadataOf(canary, name),
    spec: { listeners: [{ portMapping: portMappingOf(canary) }], routes },
  };
}

export function appMeshV1beta2Service(
  canary: Canary,
  name: string,
  annotations: Record<string, string> = {},
): MeshObject {
  return {
    apiVersion: 'appmesh.k8s.aws/v1beta2',
    kind: 'VirtualService',
    metadata: metadataOf(canary, name, annotations),
    spec: {
      awsName: `${name}.${namespaceOf(canary)}`,
      provider: { virtualRouter: { virtualRouterRef: { name } } },
    },
  };
}

/** The `<svc>-canary` router's one route: everything to the canary node. */
export const canaryOnlyRoutes = (canary: Canary): Record<string, unknown>[] => [
  {
    name: `${apexNameOf(canary)}-canary`,
    ...routeSpec(canary, [{ node: `${apexNameOf(canary)}-canary`, weight: 100 }], undefined, false),
  },
];

export class AppMeshV1beta2Router implements MeshRouter {
  constructor(private readonly deps: RouterDeps) {}

  /** Nodes, the canary-only router and service, then the apex router (weights in force) and service. */
  async reconcile(canary: Canary): Promise<void> {
    const apex = apexNameOf(canary);
    for (const side of ['primary', 'canary'] as const) {
      const selector = await this.selectorOf(canary, `${apex}-${side}`);
      await this.sync(APPMESH_V1BETA2_NODES, canary, appMeshV1beta2Node(canary, side, selector));
    }
    await this.sync(
      APPMESH_V1BETA2_ROUTERS,
      canary,
      appMeshV1beta2Router(canary, `${apex}-canary`, canaryOnlyRoutes(canary)),
    );
    await this.sync(APPMESH_V1BETA2_SERVICES, canary, appMeshV1beta2Service(canary, `${apex}-canary`));
    const current = await this.deps.reader.get<MeshObject>(
      APPMESH_V1BETA2_ROUTERS,
      namespaceOf(canary),
      apex,
    );
    const routes = current === undefined ? ALL_TO_PRIMARY : this.routesOf(current, canary);
    await this.sync(
      APPMESH_V1BETA2_ROUTERS,
      canary,
      appMeshV1beta2Router(canary, apex, appMeshRoutes(canary, routes)),
      current,
    );
    await this.sync(
      APPMESH_V1BETA2_SERVICES,
      canary,
      appMeshV1beta2Service(canary, apex, appMeshGatewayAnnotations(canary)),
    );
  }

  async getRoutes(canary: Canary): Promise<Routes> {
    return this.routesOf(await this.readApexRouter(canary), canary);
  }

  async setRoutes(canary: Canary, routes: Routes): Promise<void> {
    const current = await this.readApexRouter(canary);
    await createOrSync(
      this.deps.client,
      APPMESH_V1BETA2_ROUTERS,
      current,
      appMeshV1beta2Router(canary, apexNameOf(canary), appMeshRoutes(canary, routes)),
    );
  }

  /** Every App Mesh object is the Canary's: garbage collection removes them; nothing of the user's changed. */
  finalize(): Promise<void> {
    return Promise.resolve();
  }

  private routesOf(router: MeshObject, canary: Canary): Routes {
    return appMeshRoutesOf(
      router.spec?.['routes'],
      canary,
      `VirtualRouter ${router.metadata.name} spec.routes[0]`,
    );
  }

  private async sync(
    resource: typeof APPMESH_V1BETA2_NODES,
    canary: Canary,
    desired: MeshObject,
    current?: MeshObject,
  ): Promise<void> {
    const live =
      current ??
      (await this.deps.reader.get<MeshObject>(resource, namespaceOf(canary), desired.metadata.name));
    await createOrSync(this.deps.client, resource, live, desired);
  }

  /** The pods a node stands for: those its Service selects (the Services are reconciled first). */
  private async selectorOf(canary: Canary, serviceName: string): Promise<Record<string, string>> {
    const service = await this.deps.reader.get<Service>(RESOURCES.services, namespaceOf(canary), serviceName);
    const selector = service?.spec?.selector;
    if (selector === undefined || Object.keys(selector).length === 0) {
      throw new MeshRouterError(
        'E_MESH_NOT_FOUND',
        `Canary ${canaryName(canary)}: Service ${serviceName} ${service === undefined ? 'does not exist yet' : 'has no selector'}; the VirtualNode selects the pods it selects, and the next tick retries`,
      );
    }
    return selector;
  }

  private async readApexRouter(canary: Canary): Promise<MeshObject> {
    const name = apexNameOf(canary);
    const router = await this.deps.reader.get<MeshObject>(APPMESH_V1BETA2_ROUTERS, namespaceOf(canary), name);
    if (router === undefined) {
      throw new MeshRouterError(
        'E_MESH_NOT_FOUND',
        `Canary ${canaryName(canary)}: VirtualRouter ${name} does not exist yet; the router's reconcile creates it, and the next tick retries`,
      );
    }
    return router;
  }
}
