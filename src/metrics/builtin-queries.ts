/**
 * The built-in checks `request-success-rate` and `request-duration` (docs/flagger-compatibility.md#41-built-in-checks): one pair of
 * PromQL templates per router ("observer"), rendered with the canary's template functions and
 * sent, unauthenticated, to the Prometheus at `metricsServer`.
 *
 * Every duration template returns milliseconds: where a router records seconds the query
 * multiplies by 1000 itself, so the rendered query that `vireo metrics query --builtin` shows
 * returns the very number the check compares.
 */
import type { Canary } from '../api/schema/canary.js';
import { renderQuery, templateContext } from '../engine/checks.js';
import { resolveRouter, routerForCanary, type QueryFamily } from '../routers/traits.js';

/** A router's family of built-in queries: the router table's `queryFamily` (src/routers/traits.ts). */
export type Observer = QueryFamily;

export interface BuiltinQueries {
  /** Percentage (0–100) of canary requests that did not fail. */
  readonly successRate: string;
  /** P99 (or, where the router only keeps sums, mean) canary latency in milliseconds. */
  readonly durationMs: string;
}

const WINDOW = '[{{ interval }}]';

/** sum(rate(ok)) / sum(rate(all)) * 100; `okFilter` is added to the selector of the numerator. */
function successRatio(counter: string, selector: string, okFilter: string): string {
  return (
    `sum(rate(${counter}{${selector}, ${okFilter}}${WINDOW})) / ` +
    `sum(rate(${counter}{${selector}}${WINDOW})) * 100`
  );
}

function p99(bucket: string, selector: string, toMilliseconds: boolean): string {
  const quantile = `histogram_quantile(0.99, sum(rate(${bucket}{${selector}}${WINDOW})) by (le))`;
  return toMilliseconds ? `${quantile} * 1000` : quantile;
}

/** Mean latency in ms from a summary's _sum and _count in seconds. */
function meanMilliseconds(base: string, selector: string): string {
  return `sum(rate(${base}_sum{${selector}}${WINDOW})) / sum(rate(${base}_count{${selector}}${WINDOW})) * 1000`;
}

const POD_OF_TARGET = 'kubernetes_pod_name=~"{{ target }}-[0-9a-zA-Z]+(-[0-9a-zA-Z]+)"';

function envoy(selector: string): BuiltinQueries {
  return {
    successRate: successRatio('envoy_cluster_upstream_rq', selector, 'envoy_response_code!~"5.*"'),
    durationMs: p99('envoy_cluster_upstream_rq_time_bucket', selector, false),
  };
}

const ISTIO =
  'reporter="destination", destination_workload_namespace="{{ namespace }}", destination_workload=~"{{ target }}"';
const LINKERD = 'namespace="{{ namespace }}", deployment=~"{{ target }}", direction="inbound"';
const NGINX = 'namespace="{{ namespace }}", ingress="{{ ingress }}", canary!=""';
const HTTP = `kubernetes_namespace="{{ namespace }}", ${POD_OF_TARGET}`;
const TRAEFIK = 'service=~"{{ namespace }}-{{ target }}-canary-[0-9a-zA-Z-]+@kubernetescrd"';
const SKIPPER =
  'route=~"kube(ew)?_{{ namespace }}__{{ ingress }}_canary__.*__{{ service }}_canary(_[0-9]+)?"';
const APISIX = 'route=~"{{ namespace }}_{{ route }}-{{ target }}-canary_.+"';
const OSM =
  'destination_namespace="{{ namespace }}", destination_kind="Deployment", destination_name="{{ target }}"';
/** Local mode's router (issue: local mode) labels its series by canary namespace, target and arm. */
const LOCAL = 'namespace="{{ namespace }}", service="{{ target }}", backend="canary"';

export const BUILTIN_QUERIES: Readonly<Record<QueryFamily, BuiltinQueries>> = {
  istio: {
    successRate: successRatio('istio_requests_total', ISTIO, 'response_code!~"5.*"'),
    durationMs: p99('istio_request_duration_milliseconds_bucket', ISTIO, false),
  },
  linkerd: {
    successRate: successRatio('response_total', LINKERD, 'classification!="failure"'),
    durationMs: p99('response_latency_ms_bucket', LINKERD, false),
  },
  nginx: {
    successRate: successRatio('nginx_ingress_controller_requests', NGINX, 'status!~"5.*"'),
    durationMs: meanMilliseconds('nginx_ingress_controller_response_duration_seconds', NGINX),
  },
  http: {
    successRate: successRatio('http_request_duration_seconds_count', HTTP, 'status!~"5.*"'),
    durationMs: p99('http_request_duration_seconds_bucket', HTTP, true),
  },
  appmesh: envoy(`kubernetes_namespace="{{ namespace }}", ${POD_OF_TARGET}`),
  contour: envoy('envoy_cluster_name=~"{{ namespace }}_{{ service }}-canary_[0-9a-zA-Z-]+"'),
  gloo: envoy(
    'envoy_cluster_name=~"{{ namespace }}-{{ target }}-canaryupstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"',
  ),
  kuma: envoy('service=~"{{ target }}-canary_{{ namespace }}_svc_[0-9a-zA-Z-]+"'),
  knative: envoy('envoy_cluster_name=~"{{ namespace }}/{{ route }}"'),
  // Not in Flagger's mapping (which sends crossover to Istio's queries, where its Envoy has none).
  crossover: envoy('kubernetes_namespace="{{ namespace }}", envoy_cluster_name=~"{{ target }}-canary"'),
  traefik: {
    successRate:
      `sum(rate(traefik_service_request_duration_seconds_bucket{${TRAEFIK}, code!~"5..", le="+Inf"}${WINDOW})) / ` +
      `sum(rate(traefik_service_request_duration_seconds_bucket{${TRAEFIK}, le="+Inf"}${WINDOW})) * 100`,
    durationMs: p99('traefik_service_request_duration_seconds_bucket', TRAEFIK, true),
  },
  skipper: {
    successRate:
      `sum(rate(skipper_response_duration_seconds_bucket{${SKIPPER}, code!~"5..", le="+Inf"}${WINDOW})) / ` +
      `sum(rate(skipper_response_duration_seconds_bucket{${SKIPPER}, le="+Inf"}${WINDOW})) * 100`,
    durationMs: meanMilliseconds('skipper_serve_route_duration_seconds', SKIPPER),
  },
  apisix: {
    successRate: successRatio('apisix_http_status', APISIX, 'code!~"5.."'),
    durationMs: p99('apisix_http_latency_bucket', `type=~"request", ${APISIX}`, false),
  },
  osm: {
    successRate: successRatio('osm_request_total', OSM, 'response_code!~"5.*"'),
    durationMs: p99('osm_request_duration_ms_bucket', OSM, false),
  },
  local: {
    successRate: successRatio('vireo_router_requests_total', LOCAL, 'code!~"5.."'),
    durationMs: p99('vireo_router_request_duration_seconds_bucket', LOCAL, true),
  },
};

/**
 * How many canary requests a window held, for the sample size shown beside a built-in check: the
 * success rate's denominator, `sum(rate(all))`, as `sum(increase(all))`. Derived rather than
 * written per router so the count always selects exactly the requests the rate was computed on.
 */
export function requestCountTemplate(queries: BuiltinQueries): string {
  const [, denominator] = queries.successRate.split(' / ');
  const all = denominator?.replace(/ \* 100$/, '');
  if (all === undefined || !all.startsWith('sum(rate(')) {
    throw new Error(
      `the success-rate query is not sum(rate(ok)) / sum(rate(all)) * 100: ${queries.successRate}`,
    );
  }
  return `sum(increase(${all.slice('sum(rate('.length)}`;
}

/** Every query family, each with its two queries. */
export const OBSERVERS = Object.keys(BUILTIN_QUERIES) as Observer[];

/**
 * Which router's queries answer a canary's built-in checks (docs/flagger-compatibility.md#41-built-in-checks): the global mesh
 * provider's, unless the canary names its own (and the global router does not observe all
 * traffic, as Linkerd's proxies do whichever router moved it). A name the router table does not
 * know is refused with UnknownRouterError, never answered with Istio's queries, which return
 * nothing outside Istio.
 */
export function observerFor(canary: Canary, globalProvider: string): Observer {
  const global = resolveRouter(globalProvider, { flag: '--mesh-provider' });
  if (global.observesAllTraffic || canary.spec.provider === undefined) return global.queryFamily;
  return routerForCanary(canary, globalProvider).queryFamily;
}

export type BuiltinCheck = 'request-success-rate' | 'request-duration';

/** The rendered PromQL counting one canary's requests over `interval` (a built-in check's sample size). */
export function renderRequestCountQuery(
  observer: Observer,
  canary: Canary,
  interval: string,
  route?: string,
): string {
  return renderQuery(
    requestCountTemplate(BUILTIN_QUERIES[observer]),
    templateContext(canary, interval, {}, route),
  );
}

/** The rendered PromQL of one built-in check for one canary. */
export function renderBuiltinQuery(
  observer: Observer,
  check: BuiltinCheck,
  canary: Canary,
  interval: string,
  /** `{{ route }}` when the platform knows it (a Knative target's latest created revision). */
  route?: string,
): string {
  const queries = BUILTIN_QUERIES[observer];
  const template = check === 'request-success-rate' ? queries.successRate : queries.durationMs;
  return renderQuery(template, templateContext(canary, interval, {}, route));
}
