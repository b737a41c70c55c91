/**
 * The `gatewayapi:v1` and `gatewayapi:v1beta1` providers (docs/routers/gatewayapi.md): one
 * HTTPRoute `<svc>`, attached to `spec.service.gatewayRefs`, whose weighted rule sends P % to
 * `<svc>-primary` and C % to `<svc>-canary`. A/B testing puts the `analysis.match` conditions in
 * front of a primary-only rule; blue/green mirrors to the canary with a RequestMirror filter;
 * session affinity adds cookie rules in front of the weighted one.
 *
 * The route's spec is derived entirely from the Canary plus the state in force (the weights and
 * mirror read back from the live route, the cookies from the Canary's status), so a reconcile in
 * the middle of an analysis rewrites what drifted without moving traffic, and the same input
 * always gives the same spec (no write when the cluster already says so). Every field the CRD
 * would default is written explicitly for the same reason: a server-defaulted field missing from
 * our spec would look like drift at every tick.
 */
import type { AnalysisMatch, Canary } from '../../../api/schema/canary.js';
import { parseGoDuration } from '../../../api/duration.js';
import { analysisIntervalMs, analysisOf } from '../../../engine/settings.js';
import { ROUTER_TRAITS } from '../../../routers/traits.js';
import { VireoError } from '../../../shared/errors.js';
import type { KubeObject } from '../client.js';
import { isAlreadyExists } from '../errors.js';
import { canaryOwnerReference } from '../options.js';
import type { ResourceType } from '../resources.js';
import {
  apexNameOf,
  FLUX_HANDS_OFF,
  isOwnedByCanary,
  KUBECTL_LAST_APPLIED,
  namespaceOf,
  objectPatchOf,
} from './objects.js';
import type { AffinityCookies, MeshRouter, RouterDeps, Routes } from './router.js';

export type GatewayApiRouterErrorCode =
  | 'E_HTTPROUTE_GATEWAY_REFS'
  | 'E_HTTPROUTE_MATCH'
  | 'E_HTTPROUTE_NOT_FOUND'
  | 'E_HTTPROUTE_NOT_ACCEPTED'
  | 'E_HTTPROUTE_SHAPE';

export class GatewayApiRouterError extends VireoError {
  constructor(code: GatewayApiRouterErrorCode, message: string) {
    super(code, message);
  }
}

/** Where the spec of a route Vireo took over is kept, so revertOnDeletion can put it back (as Flagger's Istio router). */
export const ORIGINAL_CONFIGURATION = 'flagger.kubernetes.io/original-configuration';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

export type GatewayApiVersion = 'v1' | 'v1beta1';

export function httpRouteResource(version: GatewayApiVersion): ResourceType {
  const name = version === 'v1' ? 'gatewayapi:v1' : 'gatewayapi:v1beta1';
  const written = ROUTER_TRAITS[name].writes[0]!;
  return { ...written };
}

// The parts of an HTTPRoute Vireo writes; everything else passes through.
interface HeaderMatch {
  type: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}
export interface RouteMatch {
  path: { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string };
  headers?: HeaderMatch[];
  queryParams?: HeaderMatch[];
  method?: string;
}
interface HeaderValue {
  name: string;
  value: string;
}
interface HeaderModifier {
  set?: HeaderValue[];
  add?: HeaderValue[];
  remove?: string[];
}
interface BackendObjectRef {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
  port?: number;
}
export interface RouteFilter {
  type: string;
  requestHeaderModifier?: HeaderModifier;
  responseHeaderModifier?: HeaderModifier;
  requestMirror?: { backendRef: BackendObjectRef };
  urlRewrite?: {
    hostname?: string;
    path?: { type: string; replaceFullPath?: string; replacePrefixMatch?: string };
  };
  cors?: Record<string, unknown>;
}
export interface BackendRef extends BackendObjectRef {
  weight: number;
  filters?: RouteFilter[];
}
export interface RouteRule {
  matches: RouteMatch[];
  filters?: RouteFilter[];
  backendRefs: BackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
}
interface ParentRef {
  group: string;
  kind: string;
  name: string;
  namespace?: string;
  sectionName?: string;
  port?: number;
}
export interface HTTPRouteSpec {
  parentRefs: ParentRef[];
  hostnames?: string[];
  rules: RouteRule[];
  [field: string]: unknown;
}
interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  observedGeneration?: number;
}
export interface HTTPRoute extends KubeObject {
  spec?: HTTPRouteSpec;
  status?: {
    parents?: { parentRef: Partial<ParentRef>; controllerName?: string; conditions?: Condition[] }[];
  };
}

const DEFAULT_PATH: RouteMatch['path'] = { type: 'PathPrefix', value: '/' };

const isAbTesting = (canary: Canary): boolean => (analysisOf(canary.spec)?.match?.length ?? 0) > 0;

function canaryName(canary: Canary): string {
  return `${canary.metadata.name}.${namespaceOf(canary)}`;
}

type StringMatch = { exact?: string; prefix?: string; regex?: string };

function stringMatch(
  field: string,
  name: string,
  condition: StringMatch,
): { type: HeaderMatch['type']; name: string; value: string } {
  if (condition.exact !== undefined) return { type: 'Exact', name, value: condition.exact };
  if (condition.regex !== undefined) return { type: 'RegularExpression', name, value: condition.regex };
  throw new GatewayApiRouterError(
    'E_HTTPROUTE_MATCH',
    `${field}: an HTTPRoute matches headers and query parameters by exact value or regex only; use exact or regex`,
  );
}

const sortedByName = <T extends { name: string }>(items: T[]): T[] =>
  items.sort((left, right) => left.name.localeCompare(right.name));

/**
 * `spec.service.match` (Istio's HTTPMatchRequest) as HTTPRoute matches: uri exact/prefix/regex,
 * method exact, headers and query parameters exact/regex. Anything an HTTPRoute cannot express is
 * an error rather than a route that matches more than the user asked. No condition means `/`.
 */
export function serviceMatches(canary: Canary): RouteMatch[] {
  const matches = canary.spec.service?.match ?? [];
  if (matches.length === 0) return [{ path: { ...DEFAULT_PATH } }];
  return matches.map((match, index) => {
    const field = `spec.service.match[${index}]`;
    const unsupported = Object.keys(match).filter(
      (key) => !['name', 'uri', 'method', 'headers', 'queryParams'].includes(key),
    );
    if (unsupported.length > 0) {
      throw new GatewayApiRouterError(
        'E_HTTPROUTE_MATCH',
        `${field}: ${unsupported.join(', ')} cannot be expressed in an HTTPRoute; use uri, method, headers or queryParams`,
      );
    }
    const result: RouteMatch = { path: { ...DEFAULT_PATH } };
    if (match.uri !== undefined) {
      const uri = match.uri;
      if (uri.exact !== undefined) result.path = { type: 'Exact', value: uri.exact };
      else if (uri.prefix !== undefined) result.path = { type: 'PathPrefix', value: uri.prefix };
      else if (uri.regex !== undefined) result.path = { type: 'RegularExpression', value: uri.regex };
    }
    if (match.method !== undefined) {
      const method = match.method;
      if (method.exact === undefined) {
        throw new GatewayApiRouterError(
          'E_HTTPROUTE_MATCH',
          `${field}.method: an HTTPRoute matches the method exactly; use exact (e.g. GET)`,
        );
      }
      result.method = method.exact.toUpperCase();
    }
    const headers = Object.entries(match.headers ?? {}).map(([name, condition]) =>
      stringMatch(`${field}.headers.${name}`, name, condition),
    );
    if (headers.length > 0) result.headers = sortedByName(headers);
    const queryParams = Object.entries(match.queryParams ?? {}).map(([name, condition]) =>
      stringMatch(`${field}.queryParams.${name}`, name, condition),
    );
    if (queryParams.length > 0) result.queryParams = sortedByName(queryParams);
    return result;
  });
}

/** `extra` header (or query) conditions replace the ones of `base` with the same name (header names are case-insensitive). */
function mergeConditions(
  base: readonly HeaderMatch[] | undefined,
  extra: readonly HeaderMatch[],
  caseInsensitive: boolean,
): HeaderMatch[] {
  const key = (name: string): string => (caseInsensitive ? name.toLowerCase() : name);
  const overridden = new Set(extra.map((match) => key(match.name)));
  return sortedByName([...(base ?? []).filter((match) => !overridden.has(key(match.name))), ...extra]);
}

/** A/B: every `analysis.match` condition combined with every service condition. */
export function abMatches(canary: Canary, base: readonly RouteMatch[]): RouteMatch[] {
  const analysisMatches: readonly AnalysisMatch[] = analysisOf(canary.spec)?.match ?? [];
  const result: RouteMatch[] = [];
  analysisMatches.forEach((match, index) => {
    const field = `spec.analysis.match[${index}]`;
    const headers = Object.entries(match.headers ?? {}).map(([name, condition]) =>
      stringMatch(`${field}.headers.${name}`, name, condition),
    );
    const queryParams = Object.entries(match.queryParams ?? {}).map(([name, condition]) =>
      stringMatch(`${field}.queryParams.${name}`, name, condition),
    );
    for (const service of base) {
      const merged: RouteMatch = structuredClone(service);
      if (headers.length > 0) merged.headers = mergeConditions(service.headers, headers, true);
      if (queryParams.length > 0)
        merged.queryParams = mergeConditions(service.queryParams, queryParams, false);
      result.push(merged);
    }
  });
  return result;
}

function headerModifier(
  operations: { add?: Record<string, string>; set?: Record<string, string>; remove?: string[] } | undefined,
): HeaderModifier | undefined {
  if (operations === undefined) return undefined;
  const values = (map: Record<string, string> | undefined): HeaderValue[] | undefined => {
    const list = sortedByName(Object.entries(map ?? {}).map(([name, value]) => ({ name, value })));
    return list.length === 0 ? undefined : list;
  };
  const modifier: HeaderModifier = {};
  const set = values(operations.set);
  const add = values(operations.add);
  if (set !== undefined) modifier.set = set;
  if (add !== undefined) modifier.add = add;
  if ((operations.remove?.length ?? 0) > 0) modifier.remove = [...operations.remove!].sort();
  return Object.keys(modifier).length === 0 ? undefined : modifier;
}

const mirrorFilter = (backendRef: BackendObjectRef): RouteFilter => ({
  type: 'RequestMirror',
  requestMirror: { backendRef },
});

/** The filters of every rule: header modifiers, URL rewrite, static mirrors, then CORS. */
export function ruleFilters(canary: Canary): RouteFilter[] {
  const service = canary.spec.service;
  const filters: RouteFilter[] = [];
  const request = headerModifier(service?.headers?.request);
  if (request !== undefined) filters.push({ type: 'RequestHeaderModifier', requestHeaderModifier: request });
  const response = headerModifier(service?.headers?.response);
  if (response !== undefined)
    filters.push({ type: 'ResponseHeaderModifier', responseHeaderModifier: response });
  const rewrite = service?.rewrite;
  if (rewrite !== undefined && (rewrite.uri !== undefined || rewrite.authority !== undefined)) {
    const urlRewrite: NonNullable<RouteFilter['urlRewrite']> = {};
    if (rewrite.authority !== undefined) urlRewrite.hostname = rewrite.authority;
    if (rewrite.uri !== undefined) {
      urlRewrite.path =
        rewrite.type === 'ReplacePrefixMatch'
          ? { type: 'ReplacePrefixMatch', replacePrefixMatch: rewrite.uri }
          : { type: 'ReplaceFullPath', replaceFullPath: rewrite.uri };
    }
    filters.push({ type: 'URLRewrite', urlRewrite });
  }
  for (const mirror of service?.mirror ?? []) {
    if (mirror.backendRef === undefined) continue;
    const { group, kind, ...rest } = mirror.backendRef;
    filters.push(mirrorFilter({ group: group ?? '', kind: kind ?? 'Service', ...rest }));
  }
  const cors = corsFilter(canary);
  if (cors !== undefined) filters.push(cors);
  return filters;
}

/** `spec.service.corsPolicy` as the HTTPRoute CORS filter (origins by exact value or `*`). */
function corsFilter(canary: Canary): RouteFilter | undefined {
  const policy = canary.spec.service?.corsPolicy;
  if (policy === undefined) return undefined;
  const origins = [...(policy.allowOrigin ?? [])];
  (policy.allowOrigins ?? []).forEach((origin, index) => {
    if (origin.exact === undefined) {
      throw new GatewayApiRouterError(
        'E_HTTPROUTE_MATCH',
        `spec.service.corsPolicy.allowOrigins[${index}]: an HTTPRoute CORS filter takes origins as exact values (or "*"); use exact`,
      );
    }
    origins.push(origin.exact);
  });
  const cors: Record<string, unknown> = {};
  if (origins.length > 0) cors['allowOrigins'] = origins;
  if ((policy.allowMethods?.length ?? 0) > 0) cors['allowMethods'] = policy.allowMethods;
  if ((policy.allowHeaders?.length ?? 0) > 0) cors['allowHeaders'] = policy.allowHeaders;
  if ((policy.exposeHeaders?.length ?? 0) > 0) cors['exposeHeaders'] = policy.exposeHeaders;
  if (policy.allowCredentials !== undefined) cors['allowCredentials'] = policy.allowCredentials;
  if (policy.maxAge !== undefined) {
    const milliseconds = parseGoDuration(policy.maxAge);
    if (milliseconds === undefined) {
      throw new GatewayApiRouterError(
        'E_HTTPROUTE_MATCH',
        `spec.service.corsPolicy.maxAge: "${policy.maxAge}" is not a duration; write it like 24h or 600s`,
      );
    }
    cors['maxAge'] = Math.round(milliseconds / 1000);
  }
  return { type: 'CORS', cors };
}

export interface CookieSettings {
  readonly maxAge?: number | undefined;
  readonly domain?: string | undefined;
  readonly httpOnly?: boolean | undefined;
  readonly partitioned?: boolean | undefined;
  readonly path?: string | undefined;
  readonly sameSite?: string | undefined;
  readonly secure?: boolean | undefined;
}

/** `<name>=<value>; Max-Age=<s>[; Domain][; HttpOnly][; Partitioned][; Path][; SameSite][; Secure]`. */
export function setCookieValue(cookie: string, maxAge: number, settings: CookieSettings): string {
  let text = `${cookie}; Max-Age=${maxAge}`;
  if (settings.domain !== undefined) text += `; Domain=${settings.domain}`;
  if (settings.httpOnly === true) text += '; HttpOnly';
  if (settings.partitioned === true) text += '; Partitioned';
  if (settings.path !== undefined) text += `; Path=${settings.path}`;
  if (settings.sameSite !== undefined) text += `; SameSite=${settings.sameSite}`;
  if (settings.secure === true) text += '; Secure';
  return text;
}

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Requests whose Cookie header carries `<name>=<value>` (docs/routers/gatewayapi.md, "Session affinity"). */
export function cookieCondition(cookie: string): HeaderMatch {
  const [name = '', value = ''] = cookie.split(/=(.*)/s);
  return {
    type: 'RegularExpression',
    name: 'Cookie',
    value: `.*${escapeRegex(name)}.*${escapeRegex(value)}.*`,
  };
}

function withCookie(matches: readonly RouteMatch[], cookie: string): RouteMatch[] {
  return matches.map((match) => ({
    ...structuredClone(match),
    headers: mergeConditions(match.headers, [cookieCondition(cookie)], true),
  }));
}

const setCookieFilter = (value: string): RouteFilter => ({
  type: 'ResponseHeaderModifier',
  responseHeaderModifier: { add: [{ name: 'Set-Cookie', value }] },
});

/**
 * The HTTPRoute spec for `routes`, with the session-affinity cookies in force. Rule order:
 * canary-sticky, primary-sticky, the expiring previous cookie, then the weighted rule; in A/B
 * testing, the analysis conditions and then the service's conditions to the primary alone.
 */
export function httpRouteSpec(
  canary: Canary,
  routes: Routes,
  cookies: AffinityCookies,
  options: { readonly primaryCookie: boolean },
): HTTPRouteSpec {
  const service = canary.spec.service;
  const gatewayRefs = service?.gatewayRefs ?? [];
  if (gatewayRefs.length === 0) {
    throw new GatewayApiRouterError(
      'E_HTTPROUTE_GATEWAY_REFS',
      `Canary ${canaryName(canary)}: the Gateway API provider needs spec.service.gatewayRefs naming the Gateway the HTTPRoute attaches to (or the Service, for mesh routing)`,
    );
  }
  const apex = apexNameOf(canary);
  const port = service?.port;
  const backend = (name: string, weight: number): BackendRef => ({
    group: '',
    kind: 'Service',
    name,
    ...(port === undefined ? {} : { port }),
    weight,
  });
  const primary = backend(`${apex}-primary`, routes.primaryWeight);
  const canaryBackend = backend(`${apex}-canary`, routes.canaryWeight);
  const filters = ruleFilters(canary);
  const timeouts: RouteRule['timeouts'] = {};
  if (service?.timeout !== undefined) timeouts.request = service.timeout;
  if (service?.backendTimeout !== undefined) timeouts.backendRequest = service.backendTimeout;
  const rule = (
    matches: RouteMatch[],
    backendRefs: BackendRef[],
    extraFilters: RouteFilter[] = [],
  ): RouteRule => {
    const all = [...filters, ...extraFilters];
    return {
      matches,
      ...(all.length === 0 ? {} : { filters: all }),
      backendRefs,
      ...(Object.keys(timeouts).length === 0 ? {} : { timeouts: { ...timeouts } }),
    };
  };
  const base = serviceMatches(canary);
  const analysis = analysisOf(canary.spec);
  const mirror =
    routes.mirrored && (analysis?.iterations ?? 0) > 0
      ? [
          mirrorFilter({
            group: '',
            kind: 'Service',
            name: `${apex}-canary`,
            ...(port === undefined ? {} : { port }),
          }),
        ]
      : [];

  let rules: RouteRule[];
  if (isAbTesting(canary)) {
    rules = [
      rule(abMatches(canary, base), [primary, canaryBackend], mirror),
      rule(base, [backend(`${apex}-primary`, 100)]),
    ];
  } else {
    rules = [];
    const affinity = analysis?.sessionAffinity;
    const weighted = { primary, canary: canaryBackend };
    if (affinity !== undefined && routes.canaryWeight > 0 && cookies.canary !== undefined) {
      rules.push(rule(withCookie(base, cookies.canary), [backend(`${apex}-canary`, 100)]));
      weighted.canary = {
        ...canaryBackend,
        filters: [setCookieFilter(setCookieValue(cookies.canary, affinity.maxAge || 86_400, affinity))],
      };
      if (options.primaryCookie && cookies.primary !== undefined) {
        rules.push(rule(withCookie(base, cookies.primary), [backend(`${apex}-primary`, 100)]));
        const intervalSeconds = Math.round(analysisIntervalMs(analysis?.interval) / 1000);
        weighted.primary = {
          ...primary,
          filters: [setCookieFilter(setCookieValue(cookies.primary, intervalSeconds, affinity))],
        };
      }
    } else if (affinity !== undefined && routes.canaryWeight === 0 && cookies.previous !== undefined) {
      // The run is over: clients still holding its cookie are told to drop it.
      rules.push(
        rule(
          withCookie(base, cookies.previous),
          [backend(`${apex}-primary`, 100)],
          [setCookieFilter(setCookieValue(cookies.previous, -1, affinity))],
        ),
      );
    }
    rules.push(rule(base, [weighted.primary, weighted.canary], mirror));
  }

  const spec: HTTPRouteSpec = {
    parentRefs: gatewayRefs.map((ref) => ({
      ...ref,
      group: ref.group ?? GATEWAY_GROUP,
      kind: ref.kind ?? 'Gateway',
    })),
    rules,
  };
  if ((service?.hosts?.length ?? 0) > 0) spec.hostnames = [...service!.hosts!];
  return spec;
}

/** The weighted rule: the one sending to both the primary and the canary. */
function weightedRule(route: HTTPRoute, apex: string): RouteRule | undefined {
  return route.spec?.rules?.find((rule) => {
    const names = (rule.backendRefs ?? []).map((ref) => ref.name);
    return names.includes(`${apex}-primary`) && names.includes(`${apex}-canary`);
  });
}

/** The weights and mirroring of the live route, or undefined when it has no weighted rule (not shaped by Vireo yet). */
export function routesOf(route: HTTPRoute, apex: string): Routes | undefined {
  const rule = weightedRule(route, apex);
  if (rule === undefined) return undefined;
  const weightOf = (name: string): number => rule.backendRefs.find((ref) => ref.name === name)?.weight ?? 1;
  const primaryWeight = weightOf(`${apex}-primary`);
  const canaryWeight = weightOf(`${apex}-canary`);
  const total = primaryWeight + canaryWeight;
  // Weights are relative in the Gateway API; Vireo writes them summing to 100.
  const canaryShare = total === 0 ? 0 : Math.round((canaryWeight * 100) / total);
  const mirrored = (rule.filters ?? []).some(
    (filter) => filter.type === 'RequestMirror' && filter.requestMirror?.backendRef.name === `${apex}-canary`,
  );
  return { primaryWeight: 100 - canaryShare, canaryWeight: canaryShare, mirrored };
}

/**
 * A route whose parents have not accepted its current generation does not route as it says:
 * reading weights from it would let an analysis judge traffic that never moved.
 */
export function assertAccepted(route: HTTPRoute): void {
  const generation = route.metadata.generation ?? 0;
  for (const parent of route.status?.parents ?? []) {
    const accepted = parent.conditions?.find((condition) => condition.type === 'Accepted');
    if (accepted === undefined) continue;
    const name = `${parent.parentRef.kind ?? 'Gateway'} ${parent.parentRef.namespace ?? route.metadata.namespace}/${parent.parentRef.name ?? ''}`;
    if (accepted.status !== 'True') {
      throw new GatewayApiRouterError(
        'E_HTTPROUTE_NOT_ACCEPTED',
        `HTTPRoute ${route.metadata.namespace}/${route.metadata.name} is not accepted by ${name}: ${accepted.reason ?? ''} ${accepted.message ?? ''}`.trim() +
          '; fix the route or the Gateway; Vireo halts the analysis until it is accepted',
      );
    }
    if ((accepted.observedGeneration ?? 0) < generation) {
      throw new GatewayApiRouterError(
        'E_HTTPROUTE_NOT_ACCEPTED',
        `HTTPRoute ${route.metadata.namespace}/${route.metadata.name}: ${name} has not yet accepted generation ${generation} (it last accepted ${accepted.observedGeneration ?? 0}); Vireo waits for the Gateway's controller`,
      );
    }
  }
}

function cookiesOf(canary: Canary): AffinityCookies {
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

/** The route's spec as the user last applied it, or as Vireo found it before taking it over. */
function originalSpecOf(route: HTTPRoute): HTTPRouteSpec | undefined {
  for (const key of [KUBECTL_LAST_APPLIED, ORIGINAL_CONFIGURATION]) {
    const text = route.metadata.annotations?.[key];
    if (text === undefined) continue;
    try {
      const parsed = JSON.parse(text) as { spec?: HTTPRouteSpec };
      if (parsed.spec !== undefined) return parsed.spec;
    } catch {
      // Not JSON: not a record we can restore from.
    }
  }
  return undefined;
}

export class GatewayApiRouter implements MeshRouter {
  private readonly resource: ResourceType;

  constructor(
    private readonly deps: RouterDeps,
    private readonly version: GatewayApiVersion,
  ) {
    this.resource = httpRouteResource(version);
  }

  private get primaryCookie(): boolean {
    return ROUTER_TRAITS[this.version === 'v1' ? 'gatewayapi:v1' : 'gatewayapi:v1beta1']
      .primarySessionAffinity;
  }

  /**
   * Creates HTTPRoute `<svc>` with all traffic on the primary, or rewrites what drifted from the
   * Canary, keeping the weights and mirror in force and the cookies of the Canary's status.
   */
  async reconcile(canary: Canary): Promise<void> {
    const namespace = namespaceOf(canary);
    const name = apexNameOf(canary);
    const apexMetadata = canary.spec.service?.apex;
    const live = await this.deps.reader.get<HTTPRoute>(this.resource, namespace, name);
    if (live === undefined) {
      const spec = httpRouteSpec(
        canary,
        { primaryWeight: 100, canaryWeight: 0, mirrored: false },
        {},
        {
          primaryCookie: this.primaryCookie,
        },
      );
      const created: HTTPRoute = {
        apiVersion: `${GATEWAY_GROUP}/${this.version}`,
        kind: 'HTTPRoute',
        metadata: {
          name,
          namespace,
          labels: { ...(apexMetadata?.labels ?? {}) },
          annotations: { ...(apexMetadata?.annotations ?? {}), ...FLUX_HANDS_OFF },
          ownerReferences: [canaryOwnerReference(canary)],
        },
        spec,
      };
      try {
        await this.deps.client.create(this.resource, created);
      } catch (error) {
        // Not in the cache yet: the next reconcile reads it and syncs it.
        if (!isAlreadyExists(error)) throw error;
      }
      return;
    }
    const routes = routesOf(live, name) ?? { primaryWeight: 100, canaryWeight: 0, mirrored: false };
    const spec = httpRouteSpec(canary, routes, cookiesOf(canary), { primaryCookie: this.primaryCookie });
    const annotations: Record<string, string> = { ...(apexMetadata?.annotations ?? {}), ...FLUX_HANDS_OFF };
    const specPatch = objectPatchOf(live.spec ?? {}, spec);
    // Taking over a route the user made: keep what it said, for revertOnDeletion.
    if (
      specPatch !== undefined &&
      !isOwnedByCanary(live, canary) &&
      live.metadata.annotations?.[KUBECTL_LAST_APPLIED] === undefined &&
      live.metadata.annotations?.[ORIGINAL_CONFIGURATION] === undefined &&
      live.spec !== undefined
    ) {
      annotations[ORIGINAL_CONFIGURATION] = JSON.stringify({ spec: live.spec });
    }
    // Foreign labels and annotations stay: only ours are compared.
    const pick = (map: Record<string, string> | undefined, keys: string[]): Record<string, string> =>
      Object.fromEntries(keys.filter((key) => map?.[key] !== undefined).map((key) => [key, map![key]!]));
    const labels = { ...(apexMetadata?.labels ?? {}) };
    const patch = objectPatchOf(
      {
        spec: live.spec ?? {},
        metadata: {
          labels: pick(live.metadata.labels, Object.keys(labels)),
          annotations: pick(live.metadata.annotations, Object.keys(annotations)),
        },
      },
      { spec, metadata: { labels, annotations } },
    );
    if (patch !== undefined) await this.deps.client.mergePatch(this.resource, namespace, name, patch);
  }

  async getRoutes(canary: Canary): Promise<Routes> {
    const route = await this.readRoute(canary);
    assertAccepted(route);
    const routes = routesOf(route, apexNameOf(canary));
    if (routes === undefined) {
      throw new GatewayApiRouterError(
        'E_HTTPROUTE_SHAPE',
        `HTTPRoute ${namespaceOf(canary)}/${route.metadata.name} has no rule sending to both ${apexNameOf(canary)}-primary and ${apexNameOf(canary)}-canary; the router's reconcile rewrites it on the next tick`,
      );
    }
    return routes;
  }

  async setRoutes(canary: Canary, routes: Routes, cookies: AffinityCookies = {}): Promise<void> {
    const route = await this.readRoute(canary);
    const spec = httpRouteSpec(canary, routes, cookies, { primaryCookie: this.primaryCookie });
    const patch = objectPatchOf(route.spec ?? {}, spec);
    if (patch === undefined) return;
    await this.deps.client.mergePatch(this.resource, namespaceOf(canary), route.metadata.name, {
      spec: patch,
    });
  }

  /**
   * A route the Canary owns goes with it (garbage collection). A route the user made and Vireo
   * took over gets back the spec it had: kubectl's record, or the one Vireo saved.
   */
  async finalize(canary: Canary): Promise<void> {
    const namespace = namespaceOf(canary);
    const route = await this.deps.reader.get<HTTPRoute>(this.resource, namespace, apexNameOf(canary));
    if (route === undefined || isOwnedByCanary(route, canary)) return;
    const original = originalSpecOf(route);
    if (original === undefined) return;
    const specPatch = objectPatchOf(route.spec ?? {}, original);
    const hasSaved = route.metadata.annotations?.[ORIGINAL_CONFIGURATION] !== undefined;
    if (specPatch === undefined && !hasSaved) return;
    await this.deps.client.mergePatch(this.resource, namespace, route.metadata.name, {
      ...(specPatch === undefined ? {} : { spec: specPatch }),
      ...(hasSaved ? { metadata: { annotations: { [ORIGINAL_CONFIGURATION]: null } } } : {}),
    });
  }

  private async readRoute(canary: Canary): Promise<HTTPRoute> {
    const namespace = namespaceOf(canary);
    const name = apexNameOf(canary);
    const route = await this.deps.reader.get<HTTPRoute>(this.resource, namespace, name);
    if (route === undefined) {
      throw new GatewayApiRouterError(
        'E_HTTPROUTE_NOT_FOUND',
        `Canary ${canaryName(canary)}: HTTPRoute ${name} does not exist yet; it is created by the router's reconcile, which the next tick retries`,
      );
    }
    return route;
  }
}
