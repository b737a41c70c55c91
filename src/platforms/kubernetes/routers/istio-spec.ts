/**
 * The Istio objects of a canary as pure functions of the Canary, the routes and the affinity
 * cookies (docs/routers/istio.md): the DestinationRules `<svc>-primary` and `<svc>-canary`, and
 * the VirtualService `<svc>`. istio.ts reads and writes them; everything here is testable
 * without a cluster.
 *
 * One function builds the VirtualService spec for every purpose: setRoutes with the routes it is
 * asked for, reconcile with the routes read back from the live object (so a reconcile never moves
 * traffic or drops the mirror) and the cookies in the canary's status.
 */
import type { AnalysisMatch, Canary, SessionAffinity } from '../../../api/schema/canary.js';
import { deploymentStrategy } from '../../../engine/progression.js';
import { analysisIntervalMs, analysisOf } from '../../../engine/settings.js';
import { VireoError } from '../../../shared/errors.js';
import type { KubeObject } from '../client.js';
import { apexNameOf, namespaceOf } from './objects.js';
import type { AffinityCookies, Routes } from './router.js';

export type IstioRouterErrorCode = 'E_ISTIO_API' | 'E_ISTIO_NOT_FOUND' | 'E_ISTIO_SPEC' | 'E_ISTIO_ORIGINAL';

export class IstioRouterError extends VireoError {
  constructor(code: IstioRouterErrorCode, message: string) {
    super(code, message);
  }
}

/** Where an adopted VirtualService's own spec is kept until revertOnDeletion puts it back (Flagger's key). */
export const ORIGINAL_CONFIGURATION = 'flagger.kubernetes.io/original-configuration';

export type StringMatch = { exact: string } | { prefix: string } | { regex: string };

export interface HTTPMatchRequest {
  headers?: Record<string, StringMatch>;
  sourceLabels?: Record<string, string>;
  queryParams?: Record<string, StringMatch>;
  [field: string]: unknown;
}

export interface Destination {
  host: string;
  port?: { number: number };
}

export interface HeaderOperations {
  add?: Record<string, string>;
  set?: Record<string, string>;
  remove?: string[];
}

export interface RouteDestination {
  destination: Destination;
  weight?: number;
  headers?: { request?: HeaderOperations; response?: HeaderOperations };
}

export interface HTTPRoute {
  name?: string;
  match?: HTTPMatchRequest[];
  route?: RouteDestination[];
  rewrite?: { uri?: string; authority?: string };
  timeout?: string;
  retries?: Record<string, unknown>;
  corsPolicy?: Record<string, unknown>;
  headers?: { request?: HeaderOperations; response?: HeaderOperations };
  mirror?: Destination;
  mirrorPercentage?: { value: number };
  [field: string]: unknown;
}

export interface TCPRoute {
  match?: { port?: number; [field: string]: unknown }[];
  route?: RouteDestination[];
  [field: string]: unknown;
}

export interface VirtualServiceSpec {
  hosts?: string[];
  gateways?: string[];
  http?: HTTPRoute[];
  tcp?: TCPRoute[];
  [field: string]: unknown;
}

export interface VirtualService extends KubeObject {
  spec?: VirtualServiceSpec;
}

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: Record<string, unknown>;
  [field: string]: unknown;
}

export interface DestinationRule extends KubeObject {
  spec?: DestinationRuleSpec;
}

/** Names of the HTTP routes that carry session affinity, so they can be told from the others. */
export const AFFINITY_ROUTE_NAMES = {
  canary: 'canary-affinity',
  primary: 'primary-affinity',
  expired: 'expired-affinity',
} as const;

export const primaryNameOf = (canary: Canary): string => `${apexNameOf(canary)}-primary`;
export const canaryNameOf = (canary: Canary): string => `${apexNameOf(canary)}-canary`;

/** The two DestinationRules: one per generated Service, with `service.trafficPolicy`. */
export function destinationRuleSpecs(canary: Canary): { name: string; spec: DestinationRuleSpec }[] {
  const trafficPolicy = canary.spec.service?.trafficPolicy;
  return [primaryNameOf(canary), canaryNameOf(canary)].map((name) => ({
    name,
    spec: {
      host: name,
      ...(trafficPolicy === undefined ? {} : { trafficPolicy: structuredClone(trafficPolicy) }),
    },
  }));
}

const describeCanary = (canary: Canary): string => `Canary ${canary.metadata.name}.${namespaceOf(canary)}`;

/** `service.hosts` plus `<svc>` (unless `<svc>` or `*` is there); none with delegation. */
export function hostsOf(canary: Canary): string[] {
  const service = canary.spec.service;
  if (service?.delegation === true) return [];
  const apex = apexNameOf(canary);
  const hosts = [...(service?.hosts ?? [])];
  if (!hosts.includes(apex) && !hosts.includes('*')) hosts.push(apex);
  return hosts;
}

/** `service.gateways`, or `mesh` when none are given; none with delegation. */
export function gatewaysOf(canary: Canary): string[] {
  const service = canary.spec.service;
  if (service?.delegation === true) return [];
  const gateways = service?.gateways ?? [];
  return gateways.length > 0 ? [...gateways] : ['mesh'];
}

/**
 * A delegate VirtualService takes its hosts and gateways from the root that delegates to it:
 * setting either would make Istio ignore the delegation.
 */
function checkDelegation(canary: Canary): void {
  const service = canary.spec.service;
  if (service?.delegation !== true) return;
  for (const field of ['hosts', 'gateways'] as const) {
    if ((service[field]?.length ?? 0) > 0) {
      throw new IstioRouterError(
        'E_ISTIO_SPEC',
        `${describeCanary(canary)}: spec.service.${field} must be empty with spec.service.delegation: the delegate VirtualService takes its ${field} from the root VirtualService; remove spec.service.${field} or set delegation to false`,
      );
    }
  }
}

/**
 * The destinations of `<svc>-primary` and `<svc>-canary`. The port is only named when
 * portDiscovery gives the Services several ports and the VirtualService is not the mesh's own
 * (a gateway's, or a delegate): Envoy then needs to know which one.
 */
function destinations(canary: Canary): { primary: Destination; canary: Destination } {
  const service = canary.spec.service;
  const gateways = gatewaysOf(canary);
  const withPort = service?.portDiscovery === true && (gateways[0] !== 'mesh' || service.delegation === true);
  const port = withPort ? { port: { number: service.port } } : {};
  return {
    primary: { host: primaryNameOf(canary), ...port },
    canary: { host: canaryNameOf(canary), ...port },
  };
}

/** The request settings every HTTP route of the VirtualService repeats. */
function routeSettings(canary: Canary): Omit<HTTPRoute, 'match' | 'route'> {
  const service = canary.spec.service;
  const settings: Omit<HTTPRoute, 'match' | 'route'> = {};
  // Istio's rewrite has no `type` (that is Gateway API's ReplacePrefixMatch/ReplaceFullPath).
  const rewrite = {
    ...(service?.rewrite?.uri === undefined ? {} : { uri: service.rewrite.uri }),
    ...(service?.rewrite?.authority === undefined ? {} : { authority: service.rewrite.authority }),
  };
  if (Object.keys(rewrite).length > 0) settings.rewrite = rewrite;
  if (service?.timeout !== undefined && service.timeout !== '') settings.timeout = service.timeout;
  if (service?.retries !== undefined) settings.retries = structuredClone(service.retries);
  if (service?.corsPolicy !== undefined) settings.corsPolicy = structuredClone(service.corsPolicy);
  if (service?.headers !== undefined) settings.headers = structuredClone(service.headers);
  return settings;
}

/** `service.match` as Istio match requests (copies: the routes are mutated by nobody, but written). */
function serviceMatch(canary: Canary): HTTPMatchRequest[] {
  return structuredClone(canary.spec.service?.match ?? []) as HTTPMatchRequest[];
}

/** An `analysis.match` header or query condition as an Istio StringMatch (exact, prefix or regex). */
function stringMatch(
  condition: Readonly<Record<string, string | undefined>>,
  field: string,
  canary: Canary,
): StringMatch {
  if (condition['exact'] !== undefined) return { exact: condition['exact'] };
  if (condition['prefix'] !== undefined) return { prefix: condition['prefix'] };
  if (condition['regex'] !== undefined) return { regex: condition['regex'] };
  throw new IstioRouterError(
    'E_ISTIO_SPEC',
    `${describeCanary(canary)}: ${field}: Istio matches by exact, prefix or regex only; rewrite the condition with one of them (a suffix "x" is the regex ".*x$")`,
  );
}

function stringMatches(
  conditions: Readonly<Record<string, Readonly<Record<string, string | undefined>>>> | undefined,
  field: string,
  canary: Canary,
): Record<string, StringMatch> | undefined {
  if (conditions === undefined || Object.keys(conditions).length === 0) return undefined;
  return Object.fromEntries(
    Object.entries(conditions).map(([key, condition]) => [
      key,
      stringMatch(condition, `${field}.${key}`, canary),
    ]),
  );
}

/**
 * A/B conditions: each `analysis.match` entry applied to each `service.match` condition (or on
 * its own without one), its headers, query parameters and source labels replacing the service
 * condition's.
 */
export function abTestingMatch(canary: Canary): HTTPMatchRequest[] {
  const analysisMatch: readonly AnalysisMatch[] = analysisOf(canary.spec)?.match ?? [];
  const base = serviceMatch(canary);
  const conditions: HTTPMatchRequest[] = [];
  analysisMatch.forEach((match, index) => {
    const field = `spec.analysis.match[${index}]`;
    const headers = stringMatches(match.headers, `${field}.headers`, canary);
    const queryParams = stringMatches(match.queryParams, `${field}.queryParams`, canary);
    const sourceLabels =
      match.sourceLabels === undefined || Object.keys(match.sourceLabels).length === 0
        ? undefined
        : { ...match.sourceLabels };
    for (const condition of base.length > 0 ? base : [{}]) {
      conditions.push({
        ...structuredClone(condition),
        ...(headers === undefined ? {} : { headers }),
        ...(queryParams === undefined ? {} : { queryParams }),
        ...(sourceLabels === undefined ? {} : { sourceLabels }),
      });
    }
  });
  return conditions;
}

const DEFAULT_COOKIE_MAX_AGE = 86_400;
/** Max-Age that makes a browser drop a cookie of a finished run. */
const EXPIRED_MAX_AGE = -1;
/** RFC 6265 token: what a cookie name may be. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** An attribute value: no separator, no control character. */
const COOKIE_ATTRIBUTE = /^[^;\s\p{Cc}]+$/u;

function checkAffinity(affinity: SessionAffinity, canary: Canary): void {
  const field = 'spec.analysis.sessionAffinity';
  for (const key of ['cookieName', 'primaryCookieName'] as const) {
    const name = affinity[key];
    if (name !== undefined && !COOKIE_NAME.test(name)) {
      throw new IstioRouterError(
        'E_ISTIO_SPEC',
        `${describeCanary(canary)}: ${field}.${key} "${name}" is not a cookie name; use letters, digits and -._ only`,
      );
    }
  }
  for (const key of ['domain', 'path'] as const) {
    const value = affinity[key];
    if (value !== undefined && !COOKIE_ATTRIBUTE.test(value)) {
      throw new IstioRouterError(
        'E_ISTIO_SPEC',
        `${describeCanary(canary)}: ${field}.${key} may not contain ";", spaces or control characters; it goes into a Set-Cookie header`,
      );
    }
  }
}

/**
 * `<name>=<value>; Max-Age=<s>[; Domain=…][; HttpOnly][; Partitioned][; Path=…][; SameSite=…][; Secure]`,
 * the attributes in Flagger's order.
 */
export function setCookieValue(cookie: string, maxAgeSeconds: number, affinity: SessionAffinity): string {
  let text = `${cookie}; Max-Age=${maxAgeSeconds}`;
  if (affinity.domain !== undefined && affinity.domain !== '') text += `; Domain=${affinity.domain}`;
  if (affinity.httpOnly === true) text += '; HttpOnly';
  if (affinity.partitioned === true) text += '; Partitioned';
  if (affinity.path !== undefined && affinity.path !== '') text += `; Path=${affinity.path}`;
  if (affinity.sameSite !== undefined) text += `; SameSite=${affinity.sameSite}`;
  if (affinity.secure === true) text += '; Secure';
  return text;
}

const escapeRegex = (text: string): string => text.replace(/[\\^$.*+?()[\]{}|]/g, '\\$&');

/** `service.match` (or everything) narrowed to requests carrying `cookie` (`<name>=<value>`). */
export function cookieMatch(canary: Canary, cookie: string): HTTPMatchRequest[] {
  const base = serviceMatch(canary);
  return (base.length > 0 ? base : [{}]).map((condition) => ({
    ...condition,
    headers: { ...condition.headers, cookie: { regex: `.*${escapeRegex(cookie)}.*` } },
  }));
}

const setCookieHeaders = (value: string): RouteDestination['headers'] => ({
  response: { add: { 'Set-Cookie': value } },
});

/** Whether the VirtualService routes TCP (`appProtocol: tcp`) instead of HTTP. */
export const isTcp = (canary: Canary): boolean => canary.spec.service?.appProtocol?.toLowerCase() === 'tcp';

/**
 * The VirtualService spec routing `routes`:
 * - TCP: one `tcp` route on the Service port, weighted.
 * - A/B: the A/B conditions with the weights, then `service.match` to the primary only.
 * - otherwise one weighted route, mirroring to the canary when `routes.mirrored`, preceded by the
 *   session-affinity routes: while the canary takes traffic, its cookie (and the primary's)
 *   pins a client to its side and responses hand the cookies out; at weight 0 the cookie of the
 *   finished run is answered with an expiring Set-Cookie.
 */
export function virtualServiceSpec(
  canary: Canary,
  routes: Routes,
  cookies: AffinityCookies | undefined,
): VirtualServiceSpec {
  checkDelegation(canary);
  const hosts = hostsOf(canary);
  const gateways = gatewaysOf(canary);
  const spec: VirtualServiceSpec = {
    ...(hosts.length === 0 ? {} : { hosts }),
    ...(gateways.length === 0 ? {} : { gateways }),
  };
  const to = destinations(canary);
  const weighted = (
    primaryHeaders?: RouteDestination['headers'],
    canaryHeaders?: RouteDestination['headers'],
  ) => [
    {
      destination: to.primary,
      weight: routes.primaryWeight,
      ...(primaryHeaders ? { headers: primaryHeaders } : {}),
    },
    {
      destination: to.canary,
      weight: routes.canaryWeight,
      ...(canaryHeaders ? { headers: canaryHeaders } : {}),
    },
  ];
  if (isTcp(canary)) {
    spec.tcp = [{ match: [{ port: canary.spec.service?.port ?? 0 }], route: weighted() }];
    return spec;
  }
  const settings = routeSettings(canary);
  const match = serviceMatch(canary);
  const withMatch = (conditions: HTTPMatchRequest[]) =>
    conditions.length === 0 ? {} : { match: conditions };
  const analysis = analysisOf(canary.spec) ?? {};
  if (deploymentStrategy(analysis) === 'ab-testing') {
    spec.http = [
      { ...withMatch(abTestingMatch(canary)), ...settings, route: weighted() },
      { ...withMatch(match), ...settings, route: [{ destination: to.primary, weight: 100 }] },
    ];
    return spec;
  }
  const mirror: Partial<HTTPRoute> = routes.mirrored
    ? {
        mirror: to.canary,
        ...((analysis.mirrorWeight ?? 0) > 0 ? { mirrorPercentage: { value: analysis.mirrorWeight! } } : {}),
      }
    : {};
  const affinity = analysis.sessionAffinity;
  if (affinity === undefined) {
    spec.http = [{ ...withMatch(match), ...settings, route: weighted(), ...mirror }];
    return spec;
  }
  checkAffinity(affinity, canary);
  const maxAge =
    affinity.maxAge === undefined || affinity.maxAge <= 0 ? DEFAULT_COOKIE_MAX_AGE : affinity.maxAge;
  const http: HTTPRoute[] = [];
  let primaryHeaders: RouteDestination['headers'];
  let canaryHeaders: RouteDestination['headers'];
  if (routes.canaryWeight > 0 && cookies?.canary !== undefined) {
    canaryHeaders = setCookieHeaders(setCookieValue(cookies.canary, maxAge, affinity));
    http.push({
      name: AFFINITY_ROUTE_NAMES.canary,
      match: cookieMatch(canary, cookies.canary),
      ...settings,
      route: [{ destination: to.canary, weight: 100 }],
    });
    if (cookies.primary !== undefined && affinity.primaryCookieName !== undefined) {
      // A client sent to the primary stays there for one step, then takes its chance again.
      const intervalSeconds = Math.round(analysisIntervalMs(analysis.interval) / 1000);
      primaryHeaders = setCookieHeaders(setCookieValue(cookies.primary, intervalSeconds, affinity));
      http.push({
        name: AFFINITY_ROUTE_NAMES.primary,
        match: cookieMatch(canary, cookies.primary),
        ...settings,
        route: [{ destination: to.primary, weight: 100 }],
      });
    }
  } else if (routes.canaryWeight === 0 && cookies?.previous !== undefined) {
    http.push({
      name: AFFINITY_ROUTE_NAMES.expired,
      match: cookieMatch(canary, cookies.previous),
      ...settings,
      route: [
        {
          destination: to.primary,
          weight: 100,
          headers: setCookieHeaders(setCookieValue(cookies.previous, EXPIRED_MAX_AGE, affinity)),
        },
      ],
    });
  }
  http.push({ ...withMatch(match), ...settings, route: weighted(primaryHeaders, canaryHeaders), ...mirror });
  spec.http = http;
  return spec;
}

/**
 * The routes a VirtualService puts in force: the weights of the first route that sends to both
 * `<svc>-primary` and `<svc>-canary` (the weighted route, or A/B's conditional one; the affinity
 * routes send to one side only), and whether it mirrors. Undefined when no route does.
 */
export function routesOf(spec: VirtualServiceSpec | undefined, canary: Canary): Routes | undefined {
  const primaryHost = primaryNameOf(canary);
  const canaryHost = canaryNameOf(canary);
  const candidates: { route?: RouteDestination[]; mirror?: Destination }[] = [
    ...(spec?.tcp ?? []),
    ...(spec?.http ?? []),
  ];
  for (const candidate of candidates) {
    const primary = candidate.route?.find((entry) => entry.destination?.host === primaryHost);
    const canaryEntry = candidate.route?.find((entry) => entry.destination?.host === canaryHost);
    if (primary === undefined || canaryEntry === undefined) continue;
    return {
      primaryWeight: primary.weight ?? 0,
      canaryWeight: canaryEntry.weight ?? 0,
      mirrored: candidate.mirror !== undefined && candidate.mirror !== null,
    };
  }
  return undefined;
}

/** The spec to give back on revertOnDeletion: kubectl's record of the user's manifest, else ours. */
export function originalSpecOf(
  virtualService: VirtualService,
  kubectlAnnotation: string,
): VirtualServiceSpec | undefined {
  const annotations = virtualService.metadata.annotations ?? {};
  const applied = annotations[kubectlAnnotation];
  if (applied !== undefined) {
    try {
      const spec = (JSON.parse(applied) as { spec?: unknown }).spec;
      if (typeof spec === 'object' && spec !== null && !Array.isArray(spec))
        return spec as VirtualServiceSpec;
    } catch {
      // A hand-edited kubectl record: fall through to our own.
    }
  }
  const saved = annotations[ORIGINAL_CONFIGURATION];
  if (saved === undefined) return undefined;
  try {
    const spec = JSON.parse(saved) as unknown;
    if (typeof spec === 'object' && spec !== null && !Array.isArray(spec)) return spec as VirtualServiceSpec;
  } catch {
    // Reported below.
  }
  throw new IstioRouterError(
    'E_ISTIO_ORIGINAL',
    `VirtualService ${virtualService.metadata.name}: annotation ${ORIGINAL_CONFIGURATION} is not the JSON of a VirtualService spec, so the spec it replaced cannot be restored; put the spec you want back yourself and remove the annotation`,
  );
}
