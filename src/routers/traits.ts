/**
 * What each router can do, in one table keyed by every provider name Flagger accepts (plus
 * Vireo's own `local`). Every layer reads it: the engine (weights, forced iterations, mirroring),
 * validation (references, match operators, affinity), the built-in metrics (query family), the
 * Kubernetes controller (objects to watch, RBAC) and the command line (the default provider).
 * Nothing else compares provider names; adding a router is one row here plus its implementation
 * (docs/development.md, docs/routers/README.md).
 *
 * This module imports no engine, platform or command module, so each of them may import it.
 */
import { VireoError } from '../shared/errors.js';
import { closestMatch } from '../validate/suggest.js';

/**
 * The provider used when neither `spec.provider` nor `--mesh-provider` names one: the same for
 * the controller, `vireo validate`, `vireo simulate`, `vireo metrics query` and the engine.
 * `istio`, as Flagger's (docs/adr/0026-istio-router-and-default-provider.md).
 */
export const DEFAULT_MESH_PROVIDER = 'istio' satisfies RouterName;

/** Where a router runs: the Kubernetes controller, or `vireo local`. */
export type RouterPlatform = 'kubernetes' | 'local';

/**
 * The PromQL family of the built-in checks (src/metrics/builtin-queries.ts). `http` is the
 * application's own `http_request_duration_seconds` series, for routers that record none.
 */
export type QueryFamily =
  | 'istio'
  | 'linkerd'
  | 'nginx'
  | 'http'
  | 'appmesh'
  | 'contour'
  | 'gloo'
  | 'kuma'
  | 'knative'
  | 'traefik'
  | 'skipper'
  | 'apisix'
  | 'osm'
  | 'crossover'
  | 'local';

/** An `analysis.match` header operator (the CRD's oneOf). */
export type MatchOperator = 'exact' | 'prefix' | 'suffix' | 'regex';

/** A Kubernetes kind a router creates or updates, so the controller must watch it and hold RBAC for it. */
export interface RouterObjectKind {
  /** "" for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

/** A field the router cannot run without. */
export interface RequiredReference {
  /** Path from the Canary's root, e.g. ['spec', 'ingressRef']. */
  readonly path: readonly string[];
  /** What it must name, for the error message. */
  readonly names: string;
}

export interface RouterTraits {
  /** The canonical name (the table key). */
  readonly name: RouterName;
  /** Where the name comes from: Flagger's CRD enum, Flagger's docs only, or Vireo. */
  readonly origin: 'flagger' | 'flagger-docs' | 'vireo';
  /** Shifts traffic by weight. Without weights a canary runs as blue/green. */
  readonly weights: boolean;
  /** Without weights, iterations below 1 become this many (reference behaviour of the kubernetes provider). */
  readonly defaultIterations: number | undefined;
  /** Header match operators the router expresses; empty means no A/B testing at all. */
  readonly headerMatch: readonly MatchOperator[];
  /** Routes a request by a cookie (nginx by cookie name, the others by a `cookie` header match). */
  readonly cookieMatch: boolean;
  /** `analysis.match` is dropped (with a warning) instead of routing by it. */
  readonly dropsMatch: boolean;
  /** Mirrors traffic to the canary at weight 0 in the canary strategy. */
  readonly mirrorInCanary: boolean;
  /** Mirrors traffic to the canary during blue/green iterations. */
  readonly mirrorInBlueGreen: boolean;
  /** Honours `analysis.mirrorWeight` (mirrors a percentage). */
  readonly weightedMirror: boolean;
  /** Sticky sessions with `analysis.sessionAffinity.cookieName`. */
  readonly sessionAffinity: boolean;
  /** Also pins users to the primary with `primaryCookieName`. */
  readonly primarySessionAffinity: boolean;
  /** Needs a Knative Service target, and no `spec.service`. */
  readonly knativeTarget: boolean;
  readonly requiredReferences: readonly RequiredReference[];
  /** The kinds it writes besides the generated Services (which every router but knative writes). */
  readonly writes: readonly RouterObjectKind[];
  /** Writes the apex, `-primary` and `-canary` Services. */
  readonly writesServices: boolean;
  readonly queryFamily: QueryFamily;
  /** Its proxies see every request whichever router moved it, so its queries win (linkerd). */
  readonly observesAllTraffic: boolean;
  /** Where Vireo implements it today. Empty: accepted by validate and simulate, refused where a router is built. */
  readonly implementedOn: readonly RouterPlatform[];
  /** One line for docs/routers/README.md. */
  readonly summary: string;
}

/**
 * The names a Canary's `spec.provider` accepts, in the order of the generated CRD enum: Flagger's
 * CRD enum plus `smi:crossover`, which Flagger's Crossover tutorial uses and its enum lacks
 * (docs/adr/0005-follow-flagger-docs.md).
 */
export const SPEC_PROVIDER_NAMES = [
  'apisix',
  'appmesh',
  'appmesh:v1beta2',
  'contour',
  'gatewayapi:v1',
  'gatewayapi:v1beta1',
  'gloo',
  'istio',
  'knative',
  'kubernetes',
  'kuma',
  'linkerd',
  'nginx',
  'osm',
  'skipper',
  'smi:v1alpha1',
  'smi:v1alpha2',
  'smi:v1alpha3',
  'smi:crossover',
  'traefik',
] as const;

/** Every name the table knows: the Canary's names and Vireo's `local` (local mode's routers, never written in a spec). */
export const ROUTER_NAMES = [...SPEC_PROVIDER_NAMES, 'local'] as const;
export type RouterName = (typeof ROUTER_NAMES)[number];

const kind = (group: string, version: string, plural: string, kindName: string, namespaced = true) =>
  ({ group, version, plural, kind: kindName, namespaced }) as const satisfies RouterObjectKind;

const INGRESS = kind('networking.k8s.io', 'v1', 'ingresses', 'Ingress');
const INGRESS_REF: RequiredReference = {
  path: ['spec', 'ingressRef'],
  names: 'the Ingress to route through',
};
const trafficSplit = (version: string) => kind('split.smi-spec.io', version, 'trafficsplits', 'TrafficSplit');
const httpRoute = (version: string) => kind('gateway.networking.k8s.io', version, 'httproutes', 'HTTPRoute');

/** The defaults of a weighted router with no header matching, mirroring or affinity. */
const WEIGHTED = {
  origin: 'flagger',
  weights: true,
  defaultIterations: undefined,
  headerMatch: [],
  cookieMatch: false,
  dropsMatch: false,
  mirrorInCanary: false,
  mirrorInBlueGreen: false,
  weightedMirror: false,
  sessionAffinity: false,
  primarySessionAffinity: false,
  knativeTarget: false,
  requiredReferences: [],
  writesServices: true,
  observesAllTraffic: false,
  implementedOn: [],
} as const satisfies Partial<RouterTraits>;

const smi = (name: RouterName, version: string, summary: string): RouterTraits => ({
  ...WEIGHTED,
  name,
  writes: [trafficSplit(version)],
  queryFamily: 'istio',
  implementedOn: ['kubernetes'],
  summary,
});

const gatewayApi = (name: RouterName, version: string, primaryCookie: boolean): RouterTraits => ({
  ...WEIGHTED,
  name,
  headerMatch: ['exact', 'regex'],
  cookieMatch: true,
  mirrorInBlueGreen: true,
  sessionAffinity: true,
  primarySessionAffinity: primaryCookie,
  requiredReferences: [
    {
      path: ['spec', 'service', 'gatewayRefs'],
      names: 'the Gateway the HTTPRoute attaches to (or the Service, for mesh routing)',
    },
  ],
  writes: [httpRoute(version)],
  queryFamily: 'http',
  implementedOn: ['kubernetes'],
  summary: `HTTPRoute (${version})`,
});

export const ROUTER_TRAITS: Readonly<Record<RouterName, RouterTraits>> = {
  kubernetes: {
    ...WEIGHTED,
    name: 'kubernetes',
    weights: false,
    defaultIterations: 10,
    dropsMatch: true,
    writes: [],
    queryFamily: 'http',
    implementedOn: ['kubernetes'],
    summary: 'blue/green through the apex Service; no mesh',
  },
  istio: {
    ...WEIGHTED,
    name: 'istio',
    headerMatch: ['exact', 'prefix', 'regex'],
    cookieMatch: true,
    mirrorInCanary: true,
    mirrorInBlueGreen: true,
    weightedMirror: true,
    sessionAffinity: true,
    primarySessionAffinity: true,
    // Watched at v1beta1, which every Istio since 1.5 serves; written at v1 where the cluster
    // serves it (docs/routers/istio.md "API versions").
    writes: [
      kind('networking.istio.io', 'v1beta1', 'virtualservices', 'VirtualService'),
      kind('networking.istio.io', 'v1beta1', 'destinationrules', 'DestinationRule'),
    ],
    queryFamily: 'istio',
    implementedOn: ['kubernetes'],
    summary: 'VirtualService and DestinationRules',
  },
  linkerd: {
    ...WEIGHTED,
    name: 'linkerd',
    writes: [trafficSplit('v1alpha1')],
    queryFamily: 'linkerd',
    observesAllTraffic: true,
    implementedOn: ['kubernetes'],
    summary: 'SMI TrafficSplit (v1alpha1)',
  },
  appmesh: {
    ...WEIGHTED,
    name: 'appmesh',
    headerMatch: ['exact', 'prefix', 'suffix', 'regex'],
    cookieMatch: true,
    requiredReferences: [
      { path: ['spec', 'service', 'meshName'], names: 'the App Mesh mesh (v1beta1 objects name it)' },
    ],
    writes: [
      kind('appmesh.k8s.aws', 'v1beta1', 'virtualnodes', 'VirtualNode'),
      kind('appmesh.k8s.aws', 'v1beta1', 'virtualservices', 'VirtualService'),
    ],
    queryFamily: 'appmesh',
    implementedOn: ['kubernetes'],
    summary: 'App Mesh v1beta1 VirtualNodes and VirtualService',
  },
  'appmesh:v1beta2': {
    ...WEIGHTED,
    name: 'appmesh:v1beta2',
    headerMatch: ['exact', 'prefix', 'suffix', 'regex'],
    cookieMatch: true,
    writes: [
      kind('appmesh.k8s.aws', 'v1beta2', 'virtualnodes', 'VirtualNode'),
      kind('appmesh.k8s.aws', 'v1beta2', 'virtualrouters', 'VirtualRouter'),
      kind('appmesh.k8s.aws', 'v1beta2', 'virtualservices', 'VirtualService'),
    ],
    queryFamily: 'appmesh',
    implementedOn: ['kubernetes'],
    summary: 'App Mesh v1beta2 VirtualNodes, VirtualRouter and VirtualServices',
  },
  'smi:v1alpha1': smi('smi:v1alpha1', 'v1alpha1', 'SMI TrafficSplit (v1alpha1)'),
  'smi:v1alpha2': smi('smi:v1alpha2', 'v1alpha2', 'SMI TrafficSplit (v1alpha2)'),
  'smi:v1alpha3': smi('smi:v1alpha3', 'v1alpha3', 'SMI TrafficSplit (v1alpha3)'),
  // Flagger's Crossover tutorial names it; its CRD enum does not (docs/adr/0005-follow-flagger-docs.md).
  'smi:crossover': {
    ...smi('smi:crossover', 'v1alpha1', 'SMI TrafficSplit (v1alpha1) for Crossover'),
    origin: 'flagger-docs',
    queryFamily: 'crossover',
  },
  osm: { ...smi('osm', 'v1alpha2', 'SMI TrafficSplit (v1alpha2)'), queryFamily: 'osm' },
  contour: {
    ...WEIGHTED,
    name: 'contour',
    headerMatch: ['exact', 'prefix', 'suffix'],
    cookieMatch: true,
    writes: [kind('projectcontour.io', 'v1', 'httpproxies', 'HTTPProxy')],
    queryFamily: 'contour',
    implementedOn: ['kubernetes'],
    summary: 'HTTPProxy included by your root HTTPProxy',
  },
  gloo: {
    ...WEIGHTED,
    name: 'gloo',
    headerMatch: ['exact', 'regex'],
    cookieMatch: true,
    writes: [
      kind('gloo.solo.io', 'v1', 'upstreams', 'Upstream'),
      kind('gateway.solo.io', 'v1', 'routetables', 'RouteTable'),
    ],
    queryFamily: 'gloo',
    implementedOn: ['kubernetes'],
    summary: 'Upstreams and RouteTable',
  },
  nginx: {
    ...WEIGHTED,
    name: 'nginx',
    headerMatch: ['exact', 'regex'],
    cookieMatch: true,
    requiredReferences: [INGRESS_REF],
    writes: [INGRESS],
    queryFamily: 'nginx',
    implementedOn: ['kubernetes'],
    summary: 'canary Ingress `<ingress>-canary` with ingress-nginx annotations',
  },
  skipper: {
    ...WEIGHTED,
    name: 'skipper',
    requiredReferences: [INGRESS_REF],
    writes: [INGRESS],
    queryFamily: 'skipper',
    implementedOn: ['kubernetes'],
    summary: 'canary Ingress with backend weights',
  },
  traefik: {
    ...WEIGHTED,
    name: 'traefik',
    writes: [kind('traefik.io', 'v1alpha1', 'traefikservices', 'TraefikService')],
    queryFamily: 'traefik',
    implementedOn: ['kubernetes'],
    summary: 'weighted TraefikService `<svc>` that the IngressRoute routes to',
  },
  kuma: {
    ...WEIGHTED,
    name: 'kuma',
    writes: [kind('kuma.io', 'v1alpha1', 'trafficroutes', 'TrafficRoute', false)],
    queryFamily: 'kuma',
    implementedOn: ['kubernetes'],
    summary: 'TrafficRoute (cluster-scoped)',
  },
  apisix: {
    ...WEIGHTED,
    name: 'apisix',
    requiredReferences: [{ path: ['spec', 'routeRef'], names: 'the ApisixRoute to route through' }],
    writes: [kind('apisix.apache.org', 'v2', 'apisixroutes', 'ApisixRoute')],
    queryFamily: 'apisix',
    implementedOn: ['kubernetes'],
    summary: 'canary ApisixRoute',
  },
  'gatewayapi:v1': gatewayApi('gatewayapi:v1', 'v1', true),
  'gatewayapi:v1beta1': gatewayApi('gatewayapi:v1beta1', 'v1beta1', false),
  knative: {
    ...WEIGHTED,
    name: 'knative',
    knativeTarget: true,
    writesServices: false,
    writes: [kind('serving.knative.dev', 'v1', 'services', 'Service')],
    queryFamily: 'knative',
    implementedOn: ['kubernetes'],
    summary: 'traffic split of the Knative Service',
  },
  local: {
    ...WEIGHTED,
    name: 'local',
    origin: 'vireo',
    headerMatch: ['exact', 'prefix', 'suffix', 'regex'],
    cookieMatch: true,
    mirrorInBlueGreen: true,
    weightedMirror: true,
    sessionAffinity: true,
    primarySessionAffinity: true,
    writesServices: false,
    writes: [],
    queryFamily: 'local',
    implementedOn: ['local'],
    summary: "`vireo local`'s own routers (docs/local/router.md)",
  },
};

/** A provider name resolved against the table. */
export interface ResolvedRouter extends RouterTraits {
  /** The name as written (`smi:v1alpha3:linkerd`); `name` is its row. */
  readonly given: string;
  /** The mesh of an `smi:<version>:<mesh>` name. */
  readonly mesh: string | undefined;
}

/** Where a provider name came from, so an error can name the setting to change. */
export type ProviderOrigin =
  | { readonly field: 'spec.provider'; readonly canary?: string }
  | { readonly flag: '--mesh-provider'; readonly command?: string };

function describeOrigin(origin: ProviderOrigin): { where: string; change: string } {
  if ('flag' in origin) {
    const command = origin.command === undefined ? '' : ` of ${origin.command}`;
    return { where: `the flag --mesh-provider${command}`, change: '--mesh-provider' };
  }
  const canary = origin.canary === undefined ? '' : ` of Canary ${origin.canary}`;
  return { where: `spec.provider${canary}`, change: 'spec.provider' };
}

/**
 * The nearest known name: a typo of a name, or of a family missing its version (`smi`,
 * `gateway-api`), which suggests the family's shortest name (`smi:v1alpha1`, `gatewayapi:v1`).
 */
export function nearestRouterName(given: string): string | undefined {
  const close = closestMatch(given, ROUTER_NAMES);
  if (close !== undefined) return close;
  const families = [...new Set(ROUTER_NAMES.map((name) => name.split(':')[0] ?? name))];
  const family = closestMatch(given, families);
  if (family === undefined) return undefined;
  return ROUTER_NAMES.filter((name) => name === family || name.startsWith(`${family}:`)).sort(
    (left, right) => left.length - right.length || left.localeCompare(right),
  )[0];
}

/** A provider name that is neither Flagger's nor Vireo's. Every layer throws this one. */
export class UnknownRouterError extends VireoError {
  constructor(
    readonly provider: string,
    readonly origin: ProviderOrigin,
  ) {
    const { where, change } = describeOrigin(origin);
    const suggestion = nearestRouterName(provider);
    super(
      'E_UNKNOWN_ROUTER',
      `router provider "${provider}" from ${where} is not a provider name; known: ${ROUTER_NAMES.join(', ')}.` +
        (suggestion === undefined ? '' : ` Did you mean "${suggestion}"?`) +
        ` Set ${change} to one of them (docs/routers/README.md).`,
    );
  }
}

/** A known provider name whose router Vireo has not built yet on this platform. */
export class RouterNotImplementedError extends VireoError {
  constructor(
    readonly provider: string,
    readonly platform: RouterPlatform,
    readonly origin: ProviderOrigin,
  ) {
    const { where, change } = describeOrigin(origin);
    const implemented = implementedRouters(platform).join(', ');
    super(
      'E_ROUTER_NOT_IMPLEMENTED',
      `router provider "${provider}" from ${where} is not implemented yet on ${platform}; implemented: ${implemented}.` +
        ` Set ${change} to one of them (docs/routers/README.md).`,
    );
  }
}

const SMI_WITH_MESH = /^(smi:v1alpha[123]):([a-z0-9]([a-z0-9-]*[a-z0-9])?)$/;

/**
 * The row of a provider name, or undefined. Accepts the table's names and Flagger's
 * `smi:<version>:<mesh>` form (the mesh only adds Istio gateway annotations in Flagger; here a
 * `crossover` mesh picks Crossover's queries and a `linkerd` mesh observes all traffic, as Flagger's
 * name-contains rules do).
 */
export function findRouter(given: string): ResolvedRouter | undefined {
  if ((ROUTER_NAMES as readonly string[]).includes(given)) {
    return { ...ROUTER_TRAITS[given as RouterName], given, mesh: undefined };
  }
  const withMesh = SMI_WITH_MESH.exec(given);
  if (withMesh === null) return undefined;
  const base = ROUTER_TRAITS[withMesh[1] as RouterName];
  const mesh = withMesh[2];
  return {
    ...base,
    given,
    mesh,
    queryFamily: mesh === 'crossover' ? 'crossover' : base.queryFamily,
    observesAllTraffic: mesh === 'linkerd',
  };
}

/** The row of a provider name; an unknown name throws UnknownRouterError naming `origin`. */
export function resolveRouter(given: string, origin: ProviderOrigin): ResolvedRouter {
  const found = findRouter(given);
  if (found === undefined) throw new UnknownRouterError(given, origin);
  return found;
}

/**
 * The router a canary runs with, refusing an unknown name where it came from: `spec.provider`
 * when the canary sets it, else `meshOrigin` (the flag of the running command).
 */
export function routerForCanary(
  canary: {
    readonly metadata?: { readonly name?: string; readonly namespace?: string };
    readonly spec: { readonly provider?: string };
  },
  meshProvider: string | undefined,
  meshOrigin: ProviderOrigin = { flag: '--mesh-provider' },
): ResolvedRouter {
  const own = canary.spec.provider;
  if (own !== undefined) {
    const name = canary.metadata?.name;
    const origin: ProviderOrigin =
      name === undefined
        ? { field: 'spec.provider' }
        : { field: 'spec.provider', canary: `${name}.${canary.metadata?.namespace ?? 'default'}` };
    return resolveRouter(own, origin);
  }
  return resolveRouter(meshProvider ?? DEFAULT_MESH_PROVIDER, meshOrigin);
}

/**
 * The row of a provider name for a platform that is to build its router: unknown names throw
 * UnknownRouterError, known ones not built there RouterNotImplementedError.
 */
export function implementedRouter(
  given: string,
  platform: RouterPlatform,
  origin: ProviderOrigin,
): ResolvedRouter {
  const router = resolveRouter(given, origin);
  if (!router.implementedOn.includes(platform)) throw new RouterNotImplementedError(given, platform, origin);
  return router;
}

/** The names implemented on a platform, in table order. */
export function implementedRouters(platform: RouterPlatform): RouterName[] {
  return ROUTER_NAMES.filter((name) => ROUTER_TRAITS[name].implementedOn.includes(platform));
}

/** Every kind the routers implemented on a platform write (deduplicated), for watches and RBAC. */
export function kindsWrittenBy(platform: RouterPlatform): RouterObjectKind[] {
  const kinds = new Map<string, RouterObjectKind>();
  for (const name of implementedRouters(platform)) {
    for (const written of ROUTER_TRAITS[name].writes)
      kinds.set(`${written.group}/${written.plural}`, written);
  }
  return [...kinds.values()];
}

/** Whether the router writes the generated Services (all but knative and local). */
export function anyRouterWritesServices(platform: RouterPlatform): boolean {
  return implementedRouters(platform).some((name) => ROUTER_TRAITS[name].writesServices);
}
