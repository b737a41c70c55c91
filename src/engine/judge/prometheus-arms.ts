/**
 * Per-arm observations from Prometheus for the routers whose metrics split by destination
 * workload (docs/judge.md "Where the counts come from"): requests, 5xx answers and the latency
 * histogram of the canary (`<target>`) and of the primary (`<target>-primary`), each as
 * `increase(…[window])` from the analysis start to now. Prometheus extrapolates `increase` to the
 * window's edges; the counts are rounded to whole requests.
 */
import type { Canary } from '../../api/schema/canary.js';
import { MetricQueryError } from '../../metrics/errors.js';
import { apiUrl, httpJson } from '../../metrics/http.js';
import { routerForCanary, type QueryFamily } from '../../routers/traits.js';
import { VireoError } from '../../shared/errors.js';
import {
  renderQuery,
  templateContext,
  type ArmObservations,
  type ArmTraffic,
  type TrafficObservations,
} from '../checks.js';

type Arm = 'canary' | 'primary';

interface ArmQueries {
  /** The series selector of one arm, with Flagger's template functions. */
  readonly selector: (arm: Arm) => string;
  /** The request counter (a histogram's bucket series where the router has no counter). */
  readonly counter: string;
  /** Added to the selector of the counter (`le="+Inf"` when it is a histogram's bucket). */
  readonly counterOnly?: string;
  /** Added to the selector to count the failed answers. */
  readonly failed: string;
  readonly histogram: string;
  /** The unit of the histogram's `le`. */
  readonly unit: 's' | 'ms';
}

const suffix = (arm: Arm): string => (arm === 'primary' ? '-primary' : '');

function envoy(selector: (arm: Arm) => string): ArmQueries {
  return {
    selector,
    counter: 'envoy_cluster_upstream_rq',
    failed: 'envoy_response_code=~"5.*"',
    histogram: 'envoy_cluster_upstream_rq_time_bucket',
    unit: 'ms',
  };
}

/** The query families whose series tell the arms apart; others have no per-arm counts yet. */
export const ARM_QUERIES: Readonly<Partial<Record<QueryFamily, ArmQueries>>> = {
  istio: {
    selector: (arm) =>
      `reporter="destination", destination_workload_namespace="{{ namespace }}", destination_workload="{{ target }}${suffix(arm)}"`,
    counter: 'istio_requests_total',
    failed: 'response_code=~"5.*"',
    histogram: 'istio_request_duration_milliseconds_bucket',
    unit: 'ms',
  },
  linkerd: {
    selector: (arm) =>
      `namespace="{{ namespace }}", deployment="{{ target }}${suffix(arm)}", direction="inbound"`,
    counter: 'response_total',
    failed: 'classification="failure"',
    histogram: 'response_latency_ms_bucket',
    unit: 'ms',
  },
  osm: {
    selector: (arm) =>
      `destination_namespace="{{ namespace }}", destination_kind="Deployment", destination_name="{{ target }}${suffix(arm)}"`,
    counter: 'osm_request_total',
    failed: 'response_code=~"5.*"',
    histogram: 'osm_request_duration_ms_bucket',
    unit: 'ms',
  },
  contour: envoy((arm) => `envoy_cluster_name=~"{{ namespace }}_{{ service }}-${arm}_[0-9a-zA-Z-]+"`),
  gloo: envoy(
    (arm) => `envoy_cluster_name=~"{{ namespace }}-{{ target }}-${arm}upstream-[0-9a-zA-Z-]+_[0-9a-zA-Z-]+"`,
  ),
  kuma: envoy((arm) => `service=~"{{ target }}-${arm}_{{ namespace }}_svc_[0-9a-zA-Z-]+"`),
  traefik: {
    selector: (arm) => `service=~"{{ namespace }}-{{ target }}-${arm}-[0-9a-zA-Z-]+@kubernetescrd"`,
    counter: 'traefik_service_request_duration_seconds_bucket',
    counterOnly: 'le="+Inf"',
    failed: 'code=~"5.."',
    histogram: 'traefik_service_request_duration_seconds_bucket',
    unit: 's',
  },
  local: {
    selector: (arm) => `namespace="{{ namespace }}", service="{{ target }}", backend="${arm}"`,
    counter: 'vireo_router_requests_total',
    failed: 'code=~"5.."',
    histogram: 'vireo_router_request_duration_seconds_bucket',
    unit: 's',
  },
};

/** The canary's router has no per-arm series this judge knows. */
export class NoPrometheusArmsError extends VireoError {
  constructor(message: string) {
    super('E_NO_ARM_OBSERVATIONS', message);
  }
}

export interface PrometheusArmObservationsOptions {
  /** `--metrics-server` */
  readonly metricsServer: string;
  /** `--mesh-provider` */
  readonly meshProvider: string;
  readonly now: () => Date;
  readonly timeoutMs?: number;
}

/** The PromQL of one arm: requests, failed answers, and the histogram by `le`. */
export function armQueries(canary: Canary, family: QueryFamily, arm: Arm, windowSeconds: number): string[] {
  const queries = ARM_QUERIES[family];
  if (queries === undefined)
    throw new NoPrometheusArmsError(`router family ${family} has no per-arm queries`);
  const selector = renderQuery(queries.selector(arm), templateContext(canary, `${windowSeconds}s`));
  const window = `[${windowSeconds}s]`;
  const counted = queries.counterOnly === undefined ? selector : `${selector}, ${queries.counterOnly}`;
  return [
    `sum(increase(${queries.counter}{${counted}}${window}))`,
    `sum(increase(${queries.counter}{${counted}, ${queries.failed}}${window}))`,
    `sum by (le) (increase(${queries.histogram}{${selector}}${window}))`,
  ];
}

interface VectorAnswer {
  status?: string;
  error?: string;
  data?: { resultType?: string; result?: { metric?: Record<string, string>; value?: [number, string] }[] };
}

export class PrometheusArmObservations implements TrafficObservations {
  constructor(private readonly options: PrometheusArmObservationsOptions) {}

  async observe(canary: Canary, since: Date): Promise<ArmTraffic> {
    const family = routerForCanary(canary, this.options.meshProvider).queryFamily;
    const queries = ARM_QUERIES[family];
    if (queries === undefined) {
      throw new NoPrometheusArmsError(
        `the ${canary.spec.provider ?? this.options.meshProvider} router's metrics do not split by destination workload in a way the judge reads yet (docs/judge.md "Where the counts come from")`,
      );
    }
    const to = this.options.now();
    // Whole seconds, at least 2 scrapes' worth: increase() needs two samples.
    const windowSeconds = Math.max(10, Math.ceil((to.getTime() - since.getTime()) / 1000));
    const arm = async (which: Arm): Promise<ArmObservations> => {
      const [requests, failed, buckets] = armQueries(canary, family, which, windowSeconds);
      // Every query is evaluated at the same instant, `to`: evaluated at the server's own "now"
      // a scrape can land between two of them, and the histogram's +Inf bucket would no longer
      // match the request count it was read beside.
      const [requestCount, failedCount, histogram] = await Promise.all([
        this.query(requests!, to),
        this.query(failed!, to),
        this.query(buckets!, to),
      ]);
      const latencyBuckets: Record<string, number> = {};
      for (const sample of histogram) {
        const le = sample.labels['le'];
        if (le === undefined) continue;
        const bound = le === '+Inf' ? '+Inf' : String(queries.unit === 'ms' ? Number(le) / 1000 : Number(le));
        latencyBuckets[bound] = Math.round(sample.value);
      }
      return {
        requests: Math.round(requestCount[0]?.value ?? 0),
        errors: Math.round(failedCount[0]?.value ?? 0),
        latencyBuckets,
      };
    };
    const [canaryArm, primaryArm] = await Promise.all([arm('canary'), arm('primary')]);
    return {
      canary: canaryArm,
      primary: primaryArm,
      from: new Date(to.getTime() - windowSeconds * 1000),
      to,
    };
  }

  private async query(
    promql: string,
    at: Date,
  ): Promise<{ labels: Record<string, string>; value: number }[]> {
    const url = apiUrl('prometheus', this.options.metricsServer, '/api/v1/query');
    url.searchParams.set('query', promql);
    url.searchParams.set('time', (at.getTime() / 1000).toFixed(3));
    const answer = (await httpJson({
      provider: 'prometheus',
      url,
      headers: { accept: 'application/json' },
      timeoutMs: this.options.timeoutMs ?? 5_000,
      dispatcher: undefined,
    })) as VectorAnswer;
    if (
      answer.status !== 'success' ||
      answer.data?.resultType !== 'vector' ||
      !Array.isArray(answer.data.result)
    ) {
      throw new MetricQueryError(`prometheus: ${promql} failed: ${answer.error ?? 'not a vector'}`);
    }
    return answer.data.result.map((sample) => ({
      labels: sample.metric ?? {},
      value: Number(sample.value?.[1] ?? 0),
    }));
  }
}
