/**
 * The `contour` provider (docs/routers/contour.md): an HTTPProxy `<svc>` (projectcontour.io/v1)
 * whose route sends to `<svc>-primary` and `<svc>-canary` by weight. It has no virtual host: the
 * user's root HTTPProxy includes it, so its routes apply under their host. A/B testing puts one
 * route per `analysis.match` entry in front (requests matching it go by the canary's weights),
 * then the prefix route to the primary.
 */
import type { AnalysisMatch, Canary } from '../../../api/schema/canary.js';
import { analysisOf } from '../../../engine/settings.js';
import { ROUTER_TRAITS } from '../../../routers/traits.js';
import { VireoError } from '../../../shared/errors.js';
import type { KubeObject } from '../client.js';
import { isAlreadyExists } from '../errors.js';
import { canaryOwnerReference } from '../options.js';
import type { ResourceType } from '../resources.js';
import { apexNameOf, FLUX_HANDS_OFF, namespaceOf, objectPatchOf } from './objects.js';
import type { MeshRouter, RouterDeps, Routes } from './router.js';

export type ContourRouterErrorCode = 'E_HTTPPROXY_NOT_FOUND' | 'E_HTTPPROXY_ROUTES' | 'E_HTTPPROXY_SPEC';

export class ContourRouterError extends VireoError {
  constructor(code: ContourRouterErrorCode, message: string) {
    super(code, message);
  }
}

/** The kind, as the router table lists it (src/routers/traits.ts). */
export const HTTPPROXIES: ResourceType = ROUTER_TRAITS.contour.writes[0]!;

/** Linkerd's header naming the Service a meshed proxy should send to, set so Contour works in a Linkerd mesh. */
export const LINKERD_DESTINATION_HEADER = 'l5d-dst-override';

/** The conditions Contour's RetryPolicy.retryOn accepts (its CRD's enum). */
export const CONTOUR_RETRY_ON = [
  '5xx',
  'gateway-error',
  'reset',
  'reset-before-request',
  'connect-failure',
  'envoy-ratelimited',
  'retriable-4xx',
  'refused-stream',
  'retriable-status-codes',
  'retriable-headers',
  'http3-post-connect-failure',
  'cancelled',
  'deadline-exceeded',
  'internal',
  'resource-exhausted',
  'unavailable',
] as const;

/** Contour's duration syntax (Go durations, or infinity). */
const CONTOUR_DURATION =
  /^(((\d*(\.\d*)?h)|(\d*(\.\d*)?m)|(\d*(\.\d*)?s)|(\d*(\.\d*)?ms)|(\d*(\.\d*)?us)|(\d*(\.\d*)?µs)|(\d*(\.\d*)?ns))+|infinity|infinite)$/;

interface HeaderValue {
  name: string;
  value: string;
}

interface HeadersPolicy {
  set?: HeaderValue[];
  remove?: string[];
}

export interface MatchCondition {
  prefix?: string;
  header?: { name: string; exact?: string; regex?: string };
  queryParameter?: { name: string; exact?: string; prefix?: string; regex?: string };
}

export interface ProxyService {
  name: string;
  port: number;
  weight: number;
  requestHeadersPolicy?: HeadersPolicy;
  [field: string]: unknown;
}

export interface ProxyRoute {
  conditions: MatchCondition[];
  timeoutPolicy?: { response: string };
  retryPolicy?: { count?: number; perTryTimeout?: string; retryOn?: string[] };
  pathRewritePolicy?: { replacePrefix: { prefix?: string; replacement: string }[] };
  requestHeadersPolicy?: HeadersPolicy;
  responseHeadersPolicy?: HeadersPolicy;
  services: ProxyService[];
  [field: string]: unknown;
}

export interface HTTPProxy extends KubeObject {
  spec?: { ingressClassName?: string; routes?: ProxyRoute[]; [field: string]: unknown };
  status?: { currentStatus?: string; description?: string; [field: string]: unknown };
}

const specError = (message: string): ContourRouterError =>
  new ContourRouterError('E_HTTPPROXY_SPEC', message);

const escapeRegex = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The path prefix every route matches: `spec.service.match[0].uri.prefix`, else "/". Contour
 * routes an included HTTPProxy under the prefix its parent includes it with.
 */
export function routePrefixOf(canary: Canary): string {
  const prefix = canary.spec.service?.match?.[0]?.uri?.prefix;
  return prefix === undefined || prefix === '' ? '/' : prefix;
}

/**
 * The conditions of one `analysis.match` entry. Contour matches headers exactly or by regex, so a
 * prefix or suffix becomes the anchored regex that means the same; Contour ANDs a route's
 * conditions, as one entry's headers are meant.
 */
export function matchConditions(match: AnalysisMatch, index: number): MatchCondition[] {
  const conditions: MatchCondition[] = [];
  for (const [name, condition] of Object.entries(match.headers ?? {})) {
    if (condition.exact !== undefined) conditions.push({ header: { name, exact: condition.exact } });
    else if (condition.prefix !== undefined)
      conditions.push({ header: { name, regex: `^${escapeRegex(condition.prefix)}.*` } });
    else if (condition.suffix !== undefined)
      conditions.push({ header: { name, regex: `.*${escapeRegex(condition.suffix)}$` } });
    else if (condition.regex !== undefined) conditions.push({ header: { name, regex: condition.regex } });
  }
  for (const [name, condition] of Object.entries(match.queryParams ?? {})) {
    const { exact, prefix, regex } = condition;
    if (exact !== undefined) conditions.push({ queryParameter: { name, exact } });
    else if (prefix !== undefined) conditions.push({ queryParameter: { name, prefix } });
    else if (regex !== undefined) conditions.push({ queryParameter: { name, regex } });
  }
  if (conditions.length === 0) {
    throw specError(
      `spec.analysis.match[${index}] has no header or query parameter condition the contour provider can route by; give it headers (exact, prefix, suffix) or queryParams`,
    );
  }
  return conditions;
}

function timeoutPolicyOf(canary: Canary): ProxyRoute['timeoutPolicy'] {
  const timeout = canary.spec.service?.timeout;
  if (timeout === undefined || timeout === '') return undefined;
  if (!CONTOUR_DURATION.test(timeout)) {
    throw specError(
      `spec.service.timeout is "${timeout}", which Contour does not read as a duration; use a form such as 15s, 1m30s or infinity`,
    );
  }
  return { response: timeout };
}

function retryPolicyOf(canary: Canary): ProxyRoute['retryPolicy'] {
  const retries = canary.spec.service?.retries;
  if (retries === undefined) return undefined;
  const policy: NonNullable<ProxyRoute['retryPolicy']> = {};
  if (retries.attempts !== undefined) policy.count = retries.attempts;
  if (retries.perTryTimeout !== undefined && retries.perTryTimeout !== '') {
    if (!CONTOUR_DURATION.test(retries.perTryTimeout)) {
      throw specError(
        `spec.service.retries.perTryTimeout is "${retries.perTryTimeout}", which Contour does not read as a duration; use a form such as 5s`,
      );
    }
    policy.perTryTimeout = retries.perTryTimeout;
  }
  if (retries.retryOn !== undefined && retries.retryOn.trim() !== '') {
    const conditions = retries.retryOn.split(',').map((condition) => condition.trim());
    const unknown = conditions.filter(
      (condition) => !(CONTOUR_RETRY_ON as readonly string[]).includes(condition),
    );
    if (unknown.length > 0) {
      throw specError(
        `spec.service.retries.retryOn has ${unknown.map((condition) => `"${condition}"`).join(', ')}, which Contour does not retry on; use a comma-separated list of ${CONTOUR_RETRY_ON.join(', ')}`,
      );
    }
    policy.retryOn = conditions;
  }
  return policy;
}

/** `spec.service.headers.<which>`: Contour has set and remove; an `add` is a set (Contour appends nothing). */
function headersPolicyOf(canary: Canary, which: 'request' | 'response'): HeadersPolicy | undefined {
  const operations = canary.spec.service?.headers?.[which];
  const set = { ...(operations?.add ?? {}), ...(operations?.set ?? {}) };
  const names = Object.keys(set).sort();
  const remove = operations?.remove ?? [];
  if (names.length === 0 && remove.length === 0) return undefined;
  return {
    ...(names.length === 0 ? {} : { set: names.map((name) => ({ name, value: set[name]! })) }),
    ...(remove.length === 0 ? {} : { remove: [...remove] }),
  };
}

/** The route's own settings, the same on every route: timeouts, retries, rewrite and headers. */
function routePolicies(canary: Canary, prefix: string): Omit<ProxyRoute, 'conditions' | 'services'> {
  const policies: Omit<ProxyRoute, 'conditions' | 'services'> = {};
  const timeoutPolicy = timeoutPolicyOf(canary);
  if (timeoutPolicy !== undefined) policies.timeoutPolicy = timeoutPolicy;
  const retryPolicy = retryPolicyOf(canary);
  if (retryPolicy !== undefined) policies.retryPolicy = retryPolicy;
  const rewrite = canary.spec.service?.rewrite;
  if (rewrite?.uri !== undefined && rewrite.uri !== '') {
    policies.pathRewritePolicy = { replacePrefix: [{ prefix, replacement: rewrite.uri }] };
  }
  let request = headersPolicyOf(canary, 'request');
  if (rewrite?.authority !== undefined && rewrite.authority !== '') {
    // Contour rewrites the authority through the Host header of the route.
    request = { ...request, set: [...(request?.set ?? []), { name: 'Host', value: rewrite.authority }] };
  }
  if (request !== undefined) policies.requestHeadersPolicy = request;
  const response = headersPolicyOf(canary, 'response');
  if (response !== undefined) policies.responseHeadersPolicy = response;
  return policies;
}

/**
 * The HTTPProxy spec for the given weights (docs/routers/contour.md). Throws ContourRouterError
 * naming the Canary field Contour cannot express.
 */
export function httpProxySpec(
  canary: Canary,
  routes: Pick<Routes, 'primaryWeight' | 'canaryWeight'>,
  ingressClass: string | undefined,
): NonNullable<HTTPProxy['spec']> {
  const apex = apexNameOf(canary);
  const namespace = namespaceOf(canary);
  const port = canary.spec.service?.port ?? 80;
  const prefix = routePrefixOf(canary);
  const policies = routePolicies(canary, prefix);
  const service = (name: string, weight: number): ProxyService => ({
    name,
    port,
    weight,
    requestHeadersPolicy: {
      set: [{ name: LINKERD_DESTINATION_HEADER, value: `${name}.${namespace}.svc.cluster.local:${port}` }],
    },
  });
  const route = (conditions: MatchCondition[], primary: number, canaryWeight: number): ProxyRoute => ({
    conditions,
    ...policies,
    services: [service(`${apex}-primary`, primary), service(`${apex}-canary`, canaryWeight)],
  });
  const matches = analysisOf(canary.spec)?.match ?? [];
  const prefixCondition: MatchCondition = { prefix };
  const proxyRoutes =
    matches.length === 0
      ? [route([prefixCondition], routes.primaryWeight, routes.canaryWeight)]
      : [
          ...matches.map((match, index) =>
            route(
              [prefixCondition, ...matchConditions(match, index)],
              routes.primaryWeight,
              routes.canaryWeight,
            ),
          ),
          route([prefixCondition], 100, 0),
        ];
  return {
    ...(ingressClass === undefined || ingressClass === '' ? {} : { ingressClassName: ingressClass }),
    routes: proxyRoutes,
  };
}

/** The weights of the first route (the A/B route when there is one); the canary has the rest. */
export function routesFromProxy(proxy: HTTPProxy, canary: Canary): Routes {
  const primaryName = `${apexNameOf(canary)}-primary`;
  const primary = proxy.spec?.routes?.[0]?.services?.find((service) => service.name === primaryName);
  if (primary === undefined || typeof primary.weight !== 'number') {
    throw new ContourRouterError(
      'E_HTTPPROXY_ROUTES',
      `HTTPProxy ${proxy.metadata.name}: spec.routes[0].services has no ${primaryName} with a weight; Vireo's reconcile writes it again on the next tick`,
    );
  }
  const primaryWeight = Math.max(0, Math.min(100, primary.weight));
  return { primaryWeight, canaryWeight: 100 - primaryWeight, mirrored: false };
}

export class ContourRouter implements MeshRouter {
  constructor(private readonly deps: RouterDeps) {}

  /**
   * Creates the HTTPProxy at primary 100 / canary 0, or syncs it with the Canary (prefix, match,
   * timeouts, retries, rewrite, headers, ingress class) keeping the weights in force.
   */
  async reconcile(canary: Canary): Promise<void> {
    const namespace = namespaceOf(canary);
    const name = apexNameOf(canary);
    const current = await this.deps.reader.get<HTTPProxy>(HTTPPROXIES, namespace, name);
    if (current === undefined) {
      const created: HTTPProxy = {
        apiVersion: 'projectcontour.io/v1',
        kind: 'HTTPProxy',
        metadata: {
          name,
          namespace,
          annotations: { ...FLUX_HANDS_OFF },
          ownerReferences: [canaryOwnerReference(canary)],
        },
        spec: httpProxySpec(canary, { primaryWeight: 100, canaryWeight: 0 }, this.ingressClass),
      };
      try {
        await this.deps.client.create(HTTPPROXIES, created);
      } catch (error) {
        // Not in the cache yet: the next reconcile reads it and syncs it.
        if (!isAlreadyExists(error)) throw error;
      }
      return;
    }
    let inForce: Pick<Routes, 'primaryWeight' | 'canaryWeight'>;
    try {
      inForce = routesFromProxy(current, canary);
    } catch (error) {
      // No weights to keep (the route was edited away): start again from 100/0.
      if (!(error instanceof ContourRouterError)) throw error;
      inForce = { primaryWeight: 100, canaryWeight: 0 };
    }
    await this.patchSpec(current, namespace, httpProxySpec(canary, inForce, this.ingressClass));
  }

  async getRoutes(canary: Canary): Promise<Routes> {
    return routesFromProxy(await this.readProxy(canary), canary);
  }

  async setRoutes(canary: Canary, routes: Routes): Promise<void> {
    const proxy = await this.readProxy(canary);
    await this.patchSpec(proxy, namespaceOf(canary), httpProxySpec(canary, routes, this.ingressClass));
  }

  /** The HTTPProxy is the Canary's: garbage collection removes it; the user's root proxy was never changed. */
  finalize(): Promise<void> {
    return Promise.resolve();
  }

  private get ingressClass(): string | undefined {
    return this.deps.options.ingressClass;
  }

  /** Sends the spec (and Flux's annotations to proxies made before them) only when something differs. */
  private async patchSpec(
    current: HTTPProxy,
    namespace: string,
    spec: NonNullable<HTTPProxy['spec']>,
  ): Promise<void> {
    const annotations = current.metadata.annotations ?? {};
    const owned = Object.fromEntries(Object.keys(FLUX_HANDS_OFF).map((key) => [key, annotations[key]]));
    const patch = objectPatchOf(
      { metadata: { annotations: owned }, spec: current.spec ?? {} },
      { metadata: { annotations: FLUX_HANDS_OFF }, spec },
    );
    if (patch === undefined) return;
    await this.deps.client.mergePatch(HTTPPROXIES, namespace, current.metadata.name, patch);
  }

  private async readProxy(canary: Canary): Promise<HTTPProxy> {
    const namespace = namespaceOf(canary);
    const name = apexNameOf(canary);
    const proxy = await this.deps.reader.get<HTTPProxy>(HTTPPROXIES, namespace, name);
    if (proxy === undefined) {
      throw new ContourRouterError(
        'E_HTTPPROXY_NOT_FOUND',
        `Canary ${canary.metadata.name}.${namespace}: HTTPProxy ${name} does not exist yet; the router's reconcile creates it, which the next tick retries`,
      );
    }
    return proxy;
  }
}
