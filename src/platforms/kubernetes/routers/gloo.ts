/**
 * The `gloo` provider (docs/routers/gloo.md): Gloo Edge. Two kube Upstreams,
 * `<ns>-<svc>-primaryupstream-<port>` and `<ns>-<svc>-canaryupstream-<port>`, point at the
 * `-primary` and `-canary` Services (with the connection settings of `spec.upstreamRef`, when
 * set), and the RouteTable `<svc>` (gateway.solo.io/v1), which the user's VirtualService
 * delegates to, splits between them. Everything is the Canary's; the user's objects are only read.
 */
import type { AnalysisMatch, Canary } from '../../../api/schema/canary.js';
import { analysisOf } from '../../../engine/settings.js';
import { canaryOwnerReference } from '../options.js';
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

export const GLOO_UPSTREAMS = writtenResource('gloo', 'Upstream');
export const GLOO_ROUTE_TABLES = writtenResource('gloo', 'RouteTable');

/**
 * The settings of the user's Upstream (`spec.upstreamRef`) that describe how to talk to the
 * service rather than where it is: TLS, circuit breakers, connection, load balancing, HTTP/2.
 */
export const COPIED_UPSTREAM_FIELDS = [
  'sslConfig',
  'circuitBreakers',
  'connectionConfig',
  'loadBalancerConfig',
  'useHttp2',
  'initialStreamWindowSize',
  'initialConnectionWindowSize',
  'maxConcurrentStreams',
  'httpProxyHostname',
] as const;

export const glooUpstreamName = (canary: Canary, side: 'primary' | 'canary'): string =>
  `${namespaceOf(canary)}-${apexNameOf(canary)}-${side}upstream-${canary.spec.service?.port ?? 0}`;

/** The Upstream for one side: a kube upstream on its Service, with the template's settings. */
export function glooUpstream(canary: Canary, side: 'primary' | 'canary', template?: MeshObject): MeshObject {
  const namespace = namespaceOf(canary);
  const copied = Object.fromEntries(
    COPIED_UPSTREAM_FIELDS.filter((field) => template?.spec?.[field] !== undefined).map((field) => [
      field,
      structuredClone(template!.spec![field]),
    ]),
  );
  return {
    apiVersion: 'gloo.solo.io/v1',
    kind: 'Upstream',
    metadata: {
      name: glooUpstreamName(canary, side),
      namespace,
      annotations: generatedAnnotations(),
      ownerReferences: [canaryOwnerReference(canary)],
    },
    spec: {
      ...copied,
      kube: {
        serviceName: `${apexNameOf(canary)}-${side}`,
        serviceNamespace: namespace,
        servicePort: canary.spec.service?.port ?? 0,
      },
    },
  };
}

interface GlooHeaderMatcher {
  name: string;
  value?: string;
  regex?: boolean;
}

/**
 * One Gloo matcher per `analysis.match` entry (Gloo ORs matchers, ANDs headers within one). Gloo
 * matches a header by exact value or by regex; prefix and suffix have no equivalent, so they fail
 * rather than route nothing.
 */
export function glooMatchers(matches: readonly AnalysisMatch[]): { headers: GlooHeaderMatcher[] }[] {
  return matches.map((match, index) => ({
    headers: Object.entries(match.headers ?? {}).map(([name, condition]) => {
      if (condition.exact !== undefined) return { name, value: condition.exact };
      if (condition.regex !== undefined) return { name, value: condition.regex, regex: true };
      throw new MeshRouterError(
        'E_MESH_MATCH',
        `spec.analysis.match[${index}].headers.${name}: the gloo provider matches headers by exact value or regex only; use exact or regex`,
      );
    }),
  }));
}

const destination = (canary: Canary, side: 'primary' | 'canary', weight: number) => ({
  destination: { upstream: { name: glooUpstreamName(canary, side), namespace: namespaceOf(canary) } },
  weight,
});

const weightedAction = (canary: Canary, primaryWeight: number, canaryWeight: number) => ({
  multi: {
    destinations: [
      destination(canary, 'primary', primaryWeight),
      destination(canary, 'canary', canaryWeight),
    ],
  },
});

/**
 * The RouteTable's spec. Weighted: one route that inherits the delegating VirtualService's path
 * matchers and splits P/C. A/B: the first route carries the `analysis.match` headers; a second
 * one sends every other request to the primary, so they keep being served (docs/routers/gloo.md).
 */
export function glooRouteTableSpec(canary: Canary, routes: Routes): Record<string, unknown> {
  const matches = analysisOf(canary.spec)?.match ?? [];
  const first = {
    ...(matches.length > 0 ? { matchers: glooMatchers(matches) } : {}),
    inheritablePathMatchers: true,
    routeAction: weightedAction(canary, routes.primaryWeight, routes.canaryWeight),
  };
  if (!isAbTesting(canary)) return { routes: [first] };
  return {
    routes: [first, { inheritablePathMatchers: true, routeAction: weightedAction(canary, 100, 0) }],
  };
}

/** The routes of routes[0], the one that carries the analysis weights. */
export function glooRoutesOf(routeTable: MeshObject, canary: Canary): Routes {
  const routes = routeTable.spec?.['routes'] as
    | { routeAction?: { multi?: { destinations?: { destination?: unknown; weight?: unknown }[] } } }[]
    | undefined;
  const destinations = routes?.[0]?.routeAction?.multi?.destinations ?? [];
  const weightOf = (side: 'primary' | 'canary'): unknown =>
    destinations.find(
      (entry) =>
        (entry.destination as { upstream?: { name?: string } } | undefined)?.upstream?.name ===
        glooUpstreamName(canary, side),
    )?.weight;
  return routesFromWeights(
    weightOf('primary'),
    weightOf('canary'),
    `RouteTable ${routeTable.metadata.name} spec.routes[0].routeAction.multi.destinations`,
  );
}

export class GlooRouter implements MeshRouter {
  constructor(private readonly deps: RouterDeps) {}

  /** The Upstreams follow the template; the RouteTable's shape follows the Canary at the weights in force. */
  async reconcile(canary: Canary): Promise<void> {
    const namespace = namespaceOf(canary);
    const template = await this.upstreamTemplate(canary);
    for (const side of ['primary', 'canary'] as const) {
      const desired = glooUpstream(canary, side, template);
      const current = await this.deps.reader.get<MeshObject>(
        GLOO_UPSTREAMS,
        namespace,
        desired.metadata.name,
      );
      // The copied settings are the template's: drop any the template no longer has.
      const spec = {
        ...Object.fromEntries(COPIED_UPSTREAM_FIELDS.map((f) => [f, undefined])),
        ...desired.spec,
      };
      await createOrSync(this.deps.client, GLOO_UPSTREAMS, current, { ...desired, spec });
    }
    const current = await this.deps.reader.get<MeshObject>(GLOO_ROUTE_TABLES, namespace, apexNameOf(canary));
    const routes = current === undefined ? ALL_TO_PRIMARY : glooRoutesOf(current, canary);
    await createOrSync(this.deps.client, GLOO_ROUTE_TABLES, current, this.routeTable(canary, routes));
  }

  async getRoutes(canary: Canary): Promise<Routes> {
    return glooRoutesOf(await this.readRouteTable(canary), canary);
  }

  async setRoutes(canary: Canary, routes: Routes): Promise<void> {
    const current = await this.readRouteTable(canary);
    await createOrSync(this.deps.client, GLOO_ROUTE_TABLES, current, this.routeTable(canary, routes));
  }

  /** Upstreams and RouteTable are the Canary's: garbage collection removes them; nothing of the user's changed. */
  finalize(): Promise<void> {
    return Promise.resolve();
  }

  private routeTable(canary: Canary, routes: Routes): MeshObject {
    return {
      apiVersion: 'gateway.solo.io/v1',
      kind: 'RouteTable',
      metadata: {
        name: apexNameOf(canary),
        namespace: namespaceOf(canary),
        annotations: generatedAnnotations(),
        ownerReferences: [canaryOwnerReference(canary)],
      },
      spec: glooRouteTableSpec(canary, routes),
    };
  }

  private async upstreamTemplate(canary: Canary): Promise<MeshObject | undefined> {
    const ref = canary.spec.upstreamRef;
    if (ref === undefined) return undefined;
    const namespace = ref.namespace ?? namespaceOf(canary);
    const template = await this.deps.reader.get<MeshObject>(GLOO_UPSTREAMS, namespace, ref.name);
    if (template === undefined) {
      throw new MeshRouterError(
        'E_MESH_NOT_FOUND',
        `Canary ${canaryName(canary)}: spec.upstreamRef Upstream ${ref.name} does not exist in namespace ${namespace}; create it or remove spec.upstreamRef`,
      );
    }
    return template;
  }

  private async readRouteTable(canary: Canary): Promise<MeshObject> {
    const namespace = namespaceOf(canary);
    const name = apexNameOf(canary);
    const routeTable = await this.deps.reader.get<MeshObject>(GLOO_ROUTE_TABLES, namespace, name);
    if (routeTable === undefined) {
      throw new MeshRouterError(
        'E_MESH_NOT_FOUND',
        `Canary ${canaryName(canary)}: RouteTable ${name} does not exist yet; the router's reconcile creates it, and the next tick retries`,
      );
    }
    return routeTable;
  }
}
