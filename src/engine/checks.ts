/**
 * Checks run on every analysis step (docs/flagger-compatibility.md#4-metrics). A check returns a verdict with its evidence;
 * the engine counts failures and explains them. Today's checks compare one value with a range,
 * as Flagger's do; a comparison judge (canary against primary, per-arm counts and histograms,
 * decided sequentially) implements the same interface and reads the `observations` port of its
 * context from the start of the revision's analysis instead of a single value.
 *
 * Which check answers an entry of `analysis.metrics` is decided by a `CheckRegistry` of check
 * kinds (built-in, template, inline query; a judge adds its own kind), not by the engine
 * (docs/engine.md "Checks", docs/adr/0019-one-engine-assembly-and-the-judge-seam.md).
 */
import type { Canary, CanaryMetric } from '../api/schema/canary.js';
import type { MetricTemplate } from '../api/schema/metric-template.js';
import { VireoError } from '../shared/errors.js';
import { formatKey, keyOf } from './ports.js';
import { analysisOf } from './settings.js';

export type Verdict = 'pass' | 'fail' | 'inconclusive';

export interface CheckOutcome {
  readonly check: string;
  /** pass: advance; fail: one failed check; inconclusive: hold without counting (judges only). */
  readonly verdict: Verdict;
  readonly value?: number;
  readonly unit?: string;
  readonly threshold?: { readonly min?: number; readonly max?: number };
  /** Flagger's event text for a failure ("Halt … advancement success rate 95.00% < 99%"). */
  readonly message: string;
  /**
   * A failure that rolls back at once instead of counting towards `threshold`: a judge whose
   * evidence crossed its bound (docs/judge.md).
   */
  readonly decisive?: boolean;
  /** Anything else the check wants to show (a judge's counts, evidence and interval). */
  readonly evidence?: Readonly<Record<string, unknown>>;
}

/** Thrown by metric ports when a query returns nothing (or NaN): usually no traffic. */
export class NoValuesFoundError extends VireoError {
  constructor(message: string) {
    super('E_NO_VALUES', message);
  }
}

/** Thrown by metric ports when a query returns several series where one value was expected. */
export class MultipleValuesError extends VireoError {
  constructor(message: string) {
    super('E_MULTIPLE_VALUES', message);
  }
}

/** Runs a rendered query against a metrics backend and returns its single value. */
export interface MetricsProvider {
  /** Throws NoValuesFoundError, MultipleValuesError, or another VireoError for backend failures. */
  queryValue(query: string): Promise<number>;
  /**
   * Whether the backend answers (asked on each tick of an initializing canary, as Flagger does):
   * true, or false / a thrown Error saying why not. Absent: the provider has no such probe.
   */
  isOnline?(): Promise<boolean>;
}

/** The values of a canary's template variables and Flagger's template functions. */
export interface QueryContext {
  readonly name: string;
  readonly namespace: string;
  readonly target: string;
  readonly service: string;
  readonly ingress: string;
  readonly route: string;
  readonly interval: string;
  readonly variables: Readonly<Record<string, string>>;
}

/** The built-in checks, answered by the platform (PromQL per router, or local mode's recorder). */
export interface BuiltinMetrics {
  /** Percentage (0–100) of non-5xx canary responses over `interval`. */
  requestSuccessRate(canary: Canary, interval: string): Promise<number>;
  /** P99 latency of canary responses over `interval`, in milliseconds. */
  requestDurationMs(canary: Canary, interval: string): Promise<number>;
  /**
   * Whether the metrics server the built-in checks of `canary` query answers (Prometheus:
   * `vector(1)` is 1): true, or false / a thrown Error saying why not. Absent where the platform
   * measures the checks itself (local mode).
   */
  isOnline?(canary: Canary): Promise<boolean>;
  /**
   * How many canary requests the window held: the sample size shown beside a built-in check's
   * value (`vireo status`, `explain`, the dashboard). Absent where it cannot be counted.
   */
  requestCount?(canary: Canary, interval: string): Promise<number>;
}

/** Per-arm traffic counts, for comparison judges (canary against primary). */
export interface ArmObservations {
  readonly requests: number;
  /** Answers with a 5xx status. */
  readonly errors: number;
  /** Cumulative latency histogram: upper bound in seconds → count. */
  readonly latencyBuckets: Readonly<Record<string, number>>;
}

/** What both arms served over one stretch of time. */
export interface ArmTraffic {
  readonly canary: ArmObservations;
  readonly primary: ArmObservations;
  /**
   * Where the counts start: the `since` asked for, or later when the platform no longer keeps
   * that far back (or the canary's processes started later, in local mode).
   */
  readonly from: Date;
  readonly to: Date;
}

/** Per-arm traffic as the platform's router saw it. */
export interface TrafficObservations {
  /**
   * Both arms' traffic from `since` (usually `CheckContext.analysisStartedAt`) to now. Rejects
   * with a VireoError when the canary's router does not count per arm.
   */
  observe(canary: Canary, since: Date): Promise<ArmTraffic>;
}

/** Resolves templates and builds providers; the implementations come with the integrations. */
export interface MetricTemplates {
  get(namespace: string, name: string): Promise<MetricTemplate | undefined>;
  /** `interval` is the metric's (Go duration): some backends size their query window by it. */
  providerFor(template: MetricTemplate, interval: string): Promise<MetricsProvider>;
  /** The provider of deprecated inline queries: Prometheus at the canary's metricsServer. */
  inlineProvider(canary: Canary): Promise<MetricsProvider>;
}

/** The ports a check may read: the platform's metrics, templates and per-arm traffic. */
export interface CheckDependencies {
  readonly builtin: BuiltinMetrics;
  readonly templates: MetricTemplates;
  /** Per-arm counts and histograms, where the platform's router records them (local mode's proxy). */
  readonly observations?: TrafficObservations;
  /**
   * The `{{ route }}` of a canary whose route the platform knows better than its spec: a Knative
   * target's latest created revision (docs/routers/knative.md). Undefined (or answering
   * undefined): routeRef.name or the target's name, as Flagger renders it.
   */
  readonly routeOf?: (canary: Canary) => Promise<string | undefined>;
}

/** Everything a check knows when it runs: one analysis step of one canary. */
export interface CheckContext {
  readonly canary: Canary;
  /**
   * When the analysis of the revision under test started (engine clock, whole seconds), as the
   * canary's status records it: it survives restarts and moves with each new revision.
   */
  readonly analysisStartedAt: Date;
  /** `status.iterations` before this step. */
  readonly iteration: number;
  /** The engine clock at this step. */
  readonly now: Date;
  readonly ports: CheckDependencies;
}

export interface Check {
  readonly name: string;
  evaluate(context: CheckContext): Promise<CheckOutcome>;
}

/**
 * One kind of check. A kind either answers entries of `analysis.metrics` (`forMetric`, first
 * kind that claims an entry wins) or adds checks of its own for a canary (`forCanary`: a judge
 * reads its settings from the spec and returns nothing when the canary does not enable it).
 */
export interface CheckKind {
  readonly name: string;
  forMetric?(metric: CanaryMetric): Check | undefined;
  forCanary?(canary: Canary): readonly Check[];
}

/** Chooses each canary's checks from its kinds, in order. */
export class CheckRegistry {
  constructor(private readonly kinds: readonly CheckKind[]) {
    const names = kinds.map((kind) => kind.name);
    const repeated = names.find((name, index) => names.indexOf(name) !== index);
    if (repeated !== undefined)
      throw new VireoError('E_CHECK_KIND', `check kind "${repeated}" is registered twice`);
  }

  /** A registry with `kind` added after the existing kinds. */
  with(kind: CheckKind): CheckRegistry {
    return new CheckRegistry([...this.kinds, kind]);
  }

  get kindNames(): readonly string[] {
    return this.kinds.map((kind) => kind.name);
  }

  /**
   * The checks each kind adds for the whole canary (a judge), then those of `analysis.metrics`
   * in their order (an entry no kind claims is a failing check that says so). A judge goes
   * first because the engine stops at the first failed check: a judge's decisive failure must
   * not wait behind a failing threshold check (docs/judge.md).
   */
  checksFor(canary: Canary): Check[] {
    const perMetric = (analysisOf(canary.spec)?.metrics ?? []).map(
      (metric) =>
        this.kinds.reduce<Check | undefined>((found, kind) => found ?? kind.forMetric?.(metric), undefined) ??
        new UnknownMetricCheck(metric),
    );
    return [...this.kinds.flatMap((kind) => kind.forCanary?.(canary) ?? []), ...perMetric];
  }
}

export const REQUEST_SUCCESS_RATE = 'request-success-rate';
export const REQUEST_DURATION = 'request-duration';
const DEFAULT_METRIC_INTERVAL = '1m';

/** A metric with a `templateRef`: the MetricTemplate's query against its provider. */
export const TEMPLATE_CHECKS: CheckKind = {
  name: 'template',
  forMetric: (metric) => (metric.templateRef === undefined ? undefined : new TemplateCheck(metric)),
};

/** `request-success-rate` and `request-duration`, answered by the platform's built-in metrics. */
export const BUILTIN_CHECKS: CheckKind = {
  name: 'builtin',
  forMetric: (metric) => {
    if (metric.name === REQUEST_SUCCESS_RATE) return new SuccessRateCheck(metric);
    if (metric.name === REQUEST_DURATION) return new DurationCheck(metric);
    return undefined;
  },
};

/** A deprecated inline `query`, answered by Prometheus at the canary's metricsServer. */
export const INLINE_QUERY_CHECKS: CheckKind = {
  name: 'inline-query',
  forMetric: (metric) => (metric.query === undefined ? undefined : new InlineQueryCheck(metric)),
};

/** Flagger's checks, in Flagger's precedence: a templateRef wins over a built-in name. */
export const DEFAULT_CHECK_REGISTRY = new CheckRegistry([
  TEMPLATE_CHECKS,
  BUILTIN_CHECKS,
  INLINE_QUERY_CHECKS,
]);

function range(metric: CanaryMetric): { min?: number; max?: number } {
  const { min, max } = metric.thresholdRange ?? {};
  return { ...(min === undefined ? {} : { min }), ...(max === undefined ? {} : { max }) };
}

function outsideRange(value: number, metric: CanaryMetric): boolean {
  const { min, max } = metric.thresholdRange ?? {};
  return (min !== undefined && value < min) || (max !== undefined && value > max);
}

/** Flagger formats floats with %v; trailing zeros dropped. */
const show = (value: number): string => String(Number(value.toFixed(6)));

function failedQuery(
  check: string,
  canary: Canary,
  metric: CanaryMetric,
  cause: unknown,
  kind: string,
): CheckOutcome {
  const name = formatKey(keyOf(canary));
  if (cause instanceof NoValuesFoundError) {
    return {
      check,
      verdict: 'fail',
      threshold: range(metric),
      message:
        kind === 'builtin'
          ? `Halt advancement no values found for ${canary.spec.provider ?? 'default'} metric ${metric.name} probably ${canary.spec.targetRef.name}.${keyOf(canary).namespace} is not receiving traffic`
          : `Halt advancement no values found for custom metric: ${metric.name}`,
      evidence: {
        error: cause.message,
        hint: 'is the canary receiving traffic? does the query select its series?',
      },
    };
  }
  const text = cause instanceof Error ? cause.message : String(cause);
  return {
    check,
    verdict: 'fail',
    threshold: range(metric),
    message: `Metric query failed for ${metric.name}: ${text}`,
    evidence: { error: text, canary: name },
  };
}

abstract class MetricCheck implements Check {
  constructor(protected readonly metric: CanaryMetric) {}

  get name(): string {
    return this.metric.name;
  }

  protected get interval(): string {
    return this.metric.interval ?? DEFAULT_METRIC_INTERVAL;
  }

  abstract evaluate(context: CheckContext): Promise<CheckOutcome>;
}

/**
 * The sample size of a built-in check, as its evidence: best effort, so a count that cannot be
 * read never changes the check's verdict.
 */
async function sampleSize(
  builtin: BuiltinMetrics,
  canary: Canary,
  interval: string,
): Promise<{ evidence?: { requests: number } }> {
  if (builtin.requestCount === undefined) return {};
  try {
    const requests = await builtin.requestCount(canary, interval);
    return Number.isFinite(requests) ? { evidence: { requests: Math.round(requests) } } : {};
  } catch {
    return {};
  }
}

/** Built-in success rate (%): fails below min or above max; deprecated threshold is a minimum. */
class SuccessRateCheck extends MetricCheck {
  async evaluate({ canary, ports }: CheckContext): Promise<CheckOutcome> {
    let value: number;
    try {
      value = await ports.builtin.requestSuccessRate(canary, this.interval);
    } catch (cause) {
      return failedQuery(this.name, canary, this.metric, cause, 'builtin');
    }
    const name = formatKey(keyOf(canary));
    const { min, max } = this.metric.thresholdRange ?? {};
    const legacy = this.metric.thresholdRange === undefined ? this.metric.threshold : undefined;
    let message = '';
    if (min !== undefined && value < min)
      message = `Halt ${name} advancement success rate ${value.toFixed(2)}% < ${show(min)}%`;
    else if (max !== undefined && value > max)
      message = `Halt ${name} advancement success rate ${value.toFixed(2)}% > ${show(max)}%`;
    else if (legacy !== undefined && legacy > value)
      message = `Halt ${name} advancement success rate ${value.toFixed(2)}% < ${show(legacy)}%`;
    return {
      check: this.name,
      verdict: message === '' ? 'pass' : 'fail',
      value,
      unit: '%',
      threshold: legacy === undefined ? range(this.metric) : { min: legacy },
      message: message || `${this.name} ${value.toFixed(2)}% is within range`,
      ...(await sampleSize(ports.builtin, canary, this.interval)),
    };
  }
}

/** Built-in P99 latency, truncated to whole milliseconds as Flagger does. */
class DurationCheck extends MetricCheck {
  async evaluate({ canary, ports }: CheckContext): Promise<CheckOutcome> {
    let raw: number;
    try {
      raw = await ports.builtin.requestDurationMs(canary, this.interval);
    } catch (cause) {
      return failedQuery(this.name, canary, this.metric, cause, 'builtin');
    }
    const value = Math.trunc(raw);
    const name = formatKey(keyOf(canary));
    const { min, max } = this.metric.thresholdRange ?? {};
    const legacy = this.metric.thresholdRange === undefined ? this.metric.threshold : undefined;
    let message = '';
    if (min !== undefined && value < min)
      message = `Halt ${name} advancement request duration ${value}ms < ${show(min)}ms`;
    else if (max !== undefined && value > max)
      message = `Halt ${name} advancement request duration ${value}ms > ${show(max)}ms`;
    else if (legacy !== undefined && value > legacy)
      message = `Halt ${name} advancement request duration ${value}ms > ${show(legacy)}ms`;
    return {
      check: this.name,
      verdict: message === '' ? 'pass' : 'fail',
      value,
      unit: 'ms',
      threshold: legacy === undefined ? range(this.metric) : { max: legacy },
      message: message || `${this.name} ${value}ms is within range`,
      ...(await sampleSize(ports.builtin, canary, this.interval)),
    };
  }
}

/** Renders Flagger's template functions; an unknown name or variable is an error naming it. */
export function renderQuery(query: string, context: QueryContext): string {
  return query.replace(/\{\{-?\s*(.*?)\s*-?\}\}/g, (_whole, expression: string) => {
    const variable = /^\.?variables\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expression.trim());
    if (variable !== null) {
      const value = context.variables[variable[1] ?? ''];
      if (value === undefined) {
        throw new VireoError(
          'E_TEMPLATE_VARIABLE',
          `template variable "${variable[1]}" is not set: add it to templateVariables`,
        );
      }
      return value;
    }
    const field = expression.trim().replace(/^\./, '') as keyof QueryContext;
    const value = ['name', 'namespace', 'target', 'service', 'ingress', 'route', 'interval'].includes(field)
      ? context[field]
      : undefined;
    if (typeof value !== 'string') {
      throw new VireoError('E_TEMPLATE_FIELD', `unknown template field {{ ${expression.trim()} }}`);
    }
    return value;
  });
}

export function queryContext(canary: Canary, metric: CanaryMetric, route?: string): QueryContext {
  return templateContext(
    canary,
    metric.interval ?? DEFAULT_METRIC_INTERVAL,
    metric.templateVariables ?? {},
    route,
  );
}

/** The values of a MetricTemplate's or inline query's functions, with the platform's `{{ route }}`. */
async function metricQueryContext(
  canary: Canary,
  metric: CanaryMetric,
  ports: CheckDependencies,
): Promise<QueryContext> {
  return queryContext(canary, metric, await ports.routeOf?.(canary));
}

/** Flagger's template functions for a canary (docs/flagger-compatibility.md#42-metric-templates-and-providers "Rendering"). */
export function templateContext(
  canary: Canary,
  interval: string,
  variables: Readonly<Record<string, string>> = {},
  /** `{{ route }}` where the platform knows it better than the spec: a Knative target's latest created revision. */
  route?: string,
): QueryContext {
  const target = canary.spec.targetRef.name;
  return {
    name: canary.metadata.name,
    namespace: keyOf(canary).namespace,
    target,
    service: canary.spec.service?.name ?? target,
    ingress: canary.spec.ingressRef?.name ?? target,
    route: route ?? canary.spec.routeRef?.name ?? target,
    interval,
    variables,
  };
}

/** Compares a queried value with the range; without a range the deprecated threshold is a maximum. */
function judgeValue(check: string, canary: Canary, metric: CanaryMetric, value: number): CheckOutcome {
  const name = formatKey(keyOf(canary));
  const hasRange = metric.thresholdRange !== undefined;
  const failed = hasRange ? outsideRange(value, metric) : value > (metric.threshold ?? 0);
  const threshold = hasRange ? range(metric) : { max: metric.threshold ?? 0 };
  const bound =
    threshold.min !== undefined && value < threshold.min
      ? `< ${show(threshold.min)}`
      : `> ${show(threshold.max ?? 0)}`;
  return {
    check,
    verdict: failed ? 'fail' : 'pass',
    value,
    threshold,
    message: failed
      ? `Halt ${name} advancement ${metric.name} ${show(value)} ${bound}`
      : `${metric.name} ${show(value)} is within range`,
  };
}

class TemplateCheck extends MetricCheck {
  async evaluate({ canary, ports }: CheckContext): Promise<CheckOutcome> {
    const reference = this.metric.templateRef!;
    const namespace = reference.namespace ?? keyOf(canary).namespace;
    try {
      const template = await ports.templates.get(namespace, reference.name);
      if (template === undefined) {
        throw new VireoError(
          'E_TEMPLATE_NOT_FOUND',
          `MetricTemplate ${namespace}/${reference.name} not found`,
        );
      }
      const query = renderQuery(template.spec.query, await metricQueryContext(canary, this.metric, ports));
      const provider = await ports.templates.providerFor(template, this.interval);
      const value = await provider.queryValue(query);
      return { ...judgeValue(this.name, canary, this.metric, value), evidence: { query } };
    } catch (cause) {
      return failedQuery(this.name, canary, this.metric, cause, 'template');
    }
  }
}

class InlineQueryCheck extends MetricCheck {
  async evaluate({ canary, ports }: CheckContext): Promise<CheckOutcome> {
    try {
      const query = renderQuery(
        this.metric.query ?? '',
        await metricQueryContext(canary, this.metric, ports),
      );
      const provider = await ports.templates.inlineProvider(canary);
      const value = await provider.queryValue(query);
      return { ...judgeValue(this.name, canary, this.metric, value), evidence: { query } };
    } catch (cause) {
      return failedQuery(this.name, canary, this.metric, cause, 'template');
    }
  }
}

/** docs/flagger-compatibility.md#41-built-in-checks: another name without templateRef or query is an error and a failure. */
class UnknownMetricCheck extends MetricCheck {
  evaluate(): Promise<CheckOutcome> {
    return Promise.resolve({
      check: this.name,
      verdict: 'fail',
      message: `Metric ${this.name} is not built in and has no templateRef: add a MetricTemplate`,
    });
  }
}
