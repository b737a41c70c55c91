/**
 * A /metrics endpoint serving series shaped like each router's own metrics (names, labels, units
 * as the meshes export them), so the built-in PromQL can be run against a real Prometheus.
 *
 * Every series is a counter growing at a fixed rate, so `rate()` ratios are exact:
 * - the canary arm serves 100 req/s, 95 of them successful, with latencies 90% ≤ 100 ms,
 *   98% ≤ 250 ms, 100% ≤ 500 ms (P99 interpolates to 375 ms) and a mean of 120 ms;
 * - decoy arms (the primary, another namespace, the wrong reporter…) serve 40 req/s at 50%
 *   success, all ≤ 100 ms, mean 1 s: a selector that lets one in changes both answers.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Observer } from '../../src/metrics/builtin-queries.js';

type Labels = Readonly<Record<string, string>>;

export const EXPECTED_SUCCESS_RATE = 95;
export const EXPECTED_P99_MS = 375;
export const EXPECTED_MEAN_MS = 120;

interface Arm {
  readonly ok: number;
  readonly errors: number;
  /** Cumulative share of requests at or below each bound, in seconds. */
  readonly distribution: readonly (readonly [number, number])[];
  readonly meanSeconds: number;
}

const CANARY_ARM: Arm = {
  ok: 95,
  errors: 5,
  distribution: [
    [0.1, 0.9],
    [0.25, 0.98],
    [0.5, 1],
  ],
  meanSeconds: 0.12,
};
const DECOY_ARM: Arm = { ok: 20, errors: 20, distribution: [[0.1, 1]], meanSeconds: 1 };

interface Codes {
  readonly label: string;
  readonly ok: string;
  readonly error: string;
}

/** How one router exports what the built-in checks read. */
interface MeshShape {
  readonly canary: Labels;
  readonly decoys: readonly Labels[];
  /** The request counter by status, or a histogram exported per status whose +Inf/_count counts requests. */
  readonly requests:
    | { readonly counter: string; readonly codes: Codes }
    | { readonly histogram: string; readonly codes: Codes; readonly unit: 's' };
  /** Latency: a histogram (omitted when `requests` is already one) or a _sum/_count pair in seconds. */
  readonly latency?:
    | {
        readonly histogram: string;
        readonly unit: 's' | 'ms';
        readonly extra?: Labels;
        readonly decoyExtra?: Labels;
      }
    | { readonly mean: string };
}

const HTTP_CODES: Codes = { label: 'status', ok: '200', error: '503' };
const ENVOY_CODES: Codes = { label: 'envoy_response_code', ok: '200', error: '503' };

function envoyShape(canary: Labels, decoys: readonly Labels[]): MeshShape {
  return {
    canary,
    decoys,
    requests: { counter: 'envoy_cluster_upstream_rq', codes: ENVOY_CODES },
    latency: { histogram: 'envoy_cluster_upstream_rq_time', unit: 'ms' },
  };
}

const POD = { kubernetes_namespace: 'test', kubernetes_pod_name: 'podinfo-5d8f7c6b9-x7k2p' };
const PRIMARY_POD = { kubernetes_namespace: 'test', kubernetes_pod_name: 'podinfo-primary-6f7d8c9b5-abcde' };

export const MESH_SHAPES: Readonly<Record<Observer, MeshShape>> = {
  istio: {
    canary: {
      reporter: 'destination',
      destination_workload_namespace: 'test',
      destination_workload: 'podinfo',
    },
    decoys: [
      { reporter: 'source', destination_workload_namespace: 'test', destination_workload: 'podinfo' },
      {
        reporter: 'destination',
        destination_workload_namespace: 'test',
        destination_workload: 'podinfo-primary',
      },
      { reporter: 'destination', destination_workload_namespace: 'other', destination_workload: 'podinfo' },
    ],
    requests: { counter: 'istio_requests_total', codes: { label: 'response_code', ok: '200', error: '500' } },
    latency: { histogram: 'istio_request_duration_milliseconds', unit: 'ms' },
  },
  linkerd: {
    canary: { namespace: 'test', deployment: 'podinfo', direction: 'inbound' },
    decoys: [
      { namespace: 'test', deployment: 'podinfo', direction: 'outbound' },
      { namespace: 'test', deployment: 'podinfo-primary', direction: 'inbound' },
    ],
    requests: {
      counter: 'response_total',
      codes: { label: 'classification', ok: 'success', error: 'failure' },
    },
    latency: { histogram: 'response_latency_ms', unit: 'ms' },
  },
  nginx: {
    canary: { namespace: 'test', ingress: 'podinfo', canary: 'test-podinfo-canary-80' },
    decoys: [
      { namespace: 'test', ingress: 'podinfo', canary: '' },
      { namespace: 'test', ingress: 'other', canary: 'test-other-canary-80' },
    ],
    requests: { counter: 'nginx_ingress_controller_requests', codes: HTTP_CODES },
    latency: { mean: 'nginx_ingress_controller_response_duration_seconds' },
  },
  http: {
    canary: POD,
    decoys: [PRIMARY_POD, { ...POD, kubernetes_namespace: 'other' }],
    requests: { histogram: 'http_request_duration_seconds', codes: HTTP_CODES, unit: 's' },
  },
  appmesh: envoyShape(POD, [PRIMARY_POD]),
  contour: envoyShape({ envoy_cluster_name: 'test_podinfo-canary_9898' }, [
    { envoy_cluster_name: 'test_podinfo-primary_9898' },
  ]),
  gloo: envoyShape({ envoy_cluster_name: 'test-podinfo-canaryupstream-9898_gloo-system' }, [
    { envoy_cluster_name: 'test-podinfo-primaryupstream-9898_gloo-system' },
  ]),
  kuma: envoyShape({ service: 'podinfo-canary_test_svc_9898' }, [
    { service: 'podinfo-primary_test_svc_9898' },
  ]),
  knative: envoyShape({ envoy_cluster_name: 'test/podinfo' }, [{ envoy_cluster_name: 'test/other' }]),
  crossover: envoyShape({ kubernetes_namespace: 'test', envoy_cluster_name: 'podinfo-canary' }, [
    { kubernetes_namespace: 'test', envoy_cluster_name: 'podinfo-primary' },
  ]),
  traefik: {
    canary: { service: 'test-podinfo-canary-9898@kubernetescrd' },
    decoys: [{ service: 'test-podinfo-primary-9898@kubernetescrd' }],
    requests: {
      histogram: 'traefik_service_request_duration_seconds',
      codes: { label: 'code', ok: '200', error: '502' },
      unit: 's',
    },
  },
  skipper: {
    canary: { route: 'kube_test__podinfo_canary__podinfo_test_0__podinfo_canary' },
    decoys: [{ route: 'kube_test__podinfo__podinfo_test_0__podinfo_primary' }],
    requests: {
      histogram: 'skipper_response_duration_seconds',
      codes: { label: 'code', ok: '200', error: '504' },
      unit: 's',
    },
    latency: { mean: 'skipper_serve_route_duration_seconds' },
  },
  apisix: {
    canary: { route: 'test_podinfo-podinfo-canary_1' },
    decoys: [{ route: 'test_podinfo-podinfo-primary_1' }],
    requests: { counter: 'apisix_http_status', codes: { label: 'code', ok: '200', error: '500' } },
    latency: {
      histogram: 'apisix_http_latency',
      unit: 'ms',
      extra: { type: 'request' },
      decoyExtra: { type: 'upstream' },
    },
  },
  osm: {
    canary: { destination_namespace: 'test', destination_kind: 'Deployment', destination_name: 'podinfo' },
    decoys: [
      { destination_namespace: 'test', destination_kind: 'Deployment', destination_name: 'podinfo-primary' },
    ],
    requests: { counter: 'osm_request_total', codes: { label: 'response_code', ok: '200', error: '500' } },
    latency: { histogram: 'osm_request_duration_ms', unit: 'ms' },
  },
  local: {
    canary: { namespace: 'test', service: 'podinfo', backend: 'canary' },
    decoys: [{ namespace: 'test', service: 'podinfo', backend: 'primary' }],
    requests: { counter: 'vireo_router_requests_total', codes: { label: 'code', ok: '200', error: '500' } },
    latency: { histogram: 'vireo_router_request_duration_seconds', unit: 's' },
  },
};

/** Whether the built-in duration of this router is a mean (from _sum/_count) rather than a P99. */
export function durationIsMean(observer: Observer): boolean {
  const latency = MESH_SHAPES[observer].latency;
  return latency !== undefined && 'mean' in latency;
}

export interface Series {
  readonly name: string;
  readonly labels: Labels;
  readonly perSecond: number;
}

function histogramSeries(base: string, labels: Labels, count: number, arm: Arm, unit: 's' | 'ms'): Series[] {
  const scale = unit === 'ms' ? 1000 : 1;
  const series: Series[] = arm.distribution.map(([bound, share]) => ({
    name: `${base}_bucket`,
    labels: { ...labels, le: String(bound * scale) },
    perSecond: count * share,
  }));
  series.push(
    { name: `${base}_bucket`, labels: { ...labels, le: '+Inf' }, perSecond: count },
    { name: `${base}_count`, labels, perSecond: count },
    { name: `${base}_sum`, labels, perSecond: count * arm.meanSeconds * scale },
  );
  return series;
}

function armSeries(shape: MeshShape, labels: Labels, arm: Arm, decoy: boolean): Series[] {
  const series: Series[] = [];
  const { requests, latency } = shape;
  const byCode: [string, number][] = [
    [requests.codes.ok, arm.ok],
    [requests.codes.error, arm.errors],
  ];
  for (const [code, count] of byCode) {
    const coded = { ...labels, [requests.codes.label]: code };
    if ('counter' in requests) series.push({ name: requests.counter, labels: coded, perSecond: count });
    else series.push(...histogramSeries(requests.histogram, coded, count, arm, requests.unit));
  }
  const total = arm.ok + arm.errors;
  if (latency !== undefined && 'mean' in latency) {
    series.push(
      { name: `${latency.mean}_count`, labels, perSecond: total },
      { name: `${latency.mean}_sum`, labels, perSecond: total * arm.meanSeconds },
    );
  } else if (latency !== undefined) {
    const extra = decoy ? (latency.decoyExtra ?? latency.extra) : latency.extra;
    series.push(...histogramSeries(latency.histogram, { ...labels, ...extra }, total, arm, latency.unit));
  }
  return series;
}

/** The canary arm, every decoy, and the canary's labels with the decoy variant of extra labels. */
export function meshSeries(shape: MeshShape): Series[] {
  const series = armSeries(shape, shape.canary, CANARY_ARM, false);
  for (const decoy of shape.decoys) series.push(...armSeries(shape, decoy, DECOY_ARM, true));
  if (shape.latency !== undefined && 'histogram' in shape.latency && shape.latency.decoyExtra !== undefined) {
    series.push(
      ...histogramSeries(
        shape.latency.histogram,
        { ...shape.canary, ...shape.latency.decoyExtra },
        40,
        DECOY_ARM,
        shape.latency.unit,
      ),
    );
  }
  return series;
}

const escapeValue = (value: string): string =>
  value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');

/** Prometheus text exposition of the series at `elapsedSeconds`; the same series merged by name and labels. */
export function exposition(series: readonly Series[], elapsedSeconds: number): string {
  const totals = new Map<string, number>();
  for (const one of series) {
    const labels = Object.entries(one.labels)
      .filter(([, value]) => value !== '')
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([name, value]) => `${name}="${escapeValue(value)}"`)
      .join(',');
    const key = `${one.name}{${labels}}`;
    totals.set(key, (totals.get(key) ?? 0) + one.perSecond * elapsedSeconds);
  }
  return [...totals].map(([key, value]) => `${key} ${value}`).join('\n') + '\n';
}

export interface MeshExporter {
  /** host:port, for a scrape config. */
  readonly target: string;
  close(): Promise<void>;
}

/**
 * The canary arm of `observer` (95 % success) for target and Ingress `podinfo` in `namespace`,
 * without decoys: one series set per namespace lets several canaries run side by side, each
 * passing a `min: 90` success-rate check and failing a `min: 99` one.
 */
export function canarySeriesIn(observer: 'nginx' | 'http', namespace: string): Series[] {
  const shape = MESH_SHAPES[observer];
  const canary: Labels =
    observer === 'nginx'
      ? { namespace, ingress: 'podinfo', canary: `${namespace}-podinfo-canary-80` }
      : { ...shape.canary, kubernetes_namespace: namespace };
  return armSeries(shape, canary, CANARY_ARM, false);
}

/** Serves every router's series (or only `series`) on one /metrics endpoint. */
export async function startMeshExporter(
  now: () => number = Date.now,
  series: readonly Series[] = Object.values(MESH_SHAPES).flatMap(meshSeries),
): Promise<MeshExporter> {
  const startedAt = now();
  const server: Server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end();
      return;
    }
    response
      .writeHead(200, { 'content-type': 'text/plain; version=0.0.4' })
      .end(exposition(series, (now() - startedAt) / 1000));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    target: `127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
