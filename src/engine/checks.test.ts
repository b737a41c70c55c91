import { describe, expect, it } from 'vitest';
import type { Canary } from '../api/schema/canary.js';
import type { MetricTemplate } from '../api/schema/metric-template.js';
import {
  BUILTIN_CHECKS,
  CheckRegistry,
  DEFAULT_CHECK_REGISTRY,
  NoValuesFoundError,
  renderQuery,
  queryContext,
  type Check,
  type CheckContext,
  type CheckDependencies,
  type CheckOutcome,
} from './checks.js';

const canary = {
  apiVersion: 'flagger.app/v1beta1',
  kind: 'Canary',
  metadata: { name: 'podinfo', namespace: 'test' },
  spec: {
    provider: 'nginx',
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'web' },
    service: { port: 80 },
    analysis: { interval: '1m', threshold: 1, iterations: 1 },
  },
} as Canary;

function dependencies(values: {
  successRate?: number | Error;
  durationMs?: number;
  query?: number | Error;
  template?: MetricTemplate;
  requests?: number | Error;
}): CheckDependencies & { queries: string[] } {
  const queries: string[] = [];
  const provider = {
    queryValue: (query: string) => {
      queries.push(query);
      return values.query instanceof Error
        ? Promise.reject(values.query)
        : Promise.resolve(values.query ?? 0);
    },
  };
  return {
    queries,
    builtin: {
      requestSuccessRate: () =>
        values.successRate instanceof Error
          ? Promise.reject(values.successRate)
          : Promise.resolve(values.successRate ?? 100),
      requestDurationMs: () => Promise.resolve(values.durationMs ?? 0),
      ...(values.requests === undefined
        ? {}
        : {
            requestCount: () =>
              values.requests instanceof Error
                ? Promise.reject(values.requests)
                : Promise.resolve(values.requests!),
          }),
    },
    templates: {
      get: () => Promise.resolve(values.template),
      providerFor: () => Promise.resolve(provider),
      inlineProvider: () => Promise.resolve(provider),
    },
  };
}

/** The canary with these `analysis.metrics`. */
function withMetrics(...metrics: Record<string, unknown>[]): Canary {
  return { ...canary, spec: { ...canary.spec, analysis: { ...canary.spec.analysis, metrics } } } as Canary;
}

function contextOf(subject: Canary, ports: CheckDependencies): CheckContext {
  const now = new Date('2026-12-06T10:00:00Z');
  return { canary: subject, analysisStartedAt: now, iteration: 0, now, ports };
}

async function evaluate(
  metric: Record<string, unknown>,
  values: Parameters<typeof dependencies>[0],
): Promise<CheckOutcome> {
  const subject = withMetrics(metric);
  const [check] = DEFAULT_CHECK_REGISTRY.checksFor(subject);
  return check!.evaluate(contextOf(subject, dependencies(values)));
}

describe('built-in checks (docs/flagger-compatibility.md#41-built-in-checks pass rules)', () => {
  it.each([
    [
      { thresholdRange: { min: 99 } },
      98.5,
      'fail',
      'Halt podinfo.test advancement success rate 98.50% < 99%',
    ],
    [{ thresholdRange: { min: 99 } }, 99, 'pass', ''],
    [{ thresholdRange: { max: 50 } }, 60, 'fail', 'Halt podinfo.test advancement success rate 60.00% > 50%'],
    [{ threshold: 99 }, 98, 'fail', 'Halt podinfo.test advancement success rate 98.00% < 99%'],
    [{ threshold: 99 }, 99.5, 'pass', ''],
  ])('request-success-rate %j with %d%% → %s', async (settings, value, verdict, message) => {
    const outcome = await evaluate({ name: 'request-success-rate', ...settings }, { successRate: value });
    expect(outcome.verdict).toBe(verdict);
    if (message !== '') expect(outcome.message).toBe(message);
  });

  it.each([
    [{ thresholdRange: { max: 500 } }, 500.9, 'pass'],
    [{ thresholdRange: { max: 500 } }, 501.2, 'fail'],
    [{ thresholdRange: { min: 10 } }, 9.99, 'fail'],
    [{ threshold: 500 }, 501, 'fail'],
    [{ threshold: 500 }, 500, 'pass'],
  ])('request-duration %j with %d ms → %s (truncated to whole ms)', async (settings, value, verdict) => {
    expect((await evaluate({ name: 'request-duration', ...settings }, { durationMs: value })).verdict).toBe(
      verdict,
    );
  });

  it('shows how many requests each built-in value was measured on, and a count that cannot be read changes no verdict', async () => {
    const rate = { name: 'request-success-rate', thresholdRange: { min: 99 } };
    const duration = { name: 'request-duration', thresholdRange: { max: 500 } };
    expect(await evaluate(rate, { successRate: 95.2, requests: 411.6 })).toMatchObject({
      verdict: 'fail',
      value: 95.2,
      threshold: { min: 99 },
      evidence: { requests: 412 },
    });
    expect(await evaluate(duration, { durationMs: 120, requests: 80 })).toMatchObject({
      verdict: 'pass',
      evidence: { requests: 80 },
    });
    const unreadable = await evaluate(rate, { successRate: 99.5, requests: new Error('prometheus down') });
    expect(unreadable.verdict).toBe('pass');
    expect(unreadable.evidence).toBeUndefined();
  });

  it('reports "no values found" the way Flagger does, with a hint', async () => {
    const outcome = await evaluate(
      { name: 'request-success-rate', thresholdRange: { min: 99 } },
      { successRate: new NoValuesFoundError('empty vector') },
    );
    expect(outcome).toMatchObject({
      verdict: 'fail',
      message:
        'Halt advancement no values found for nginx metric request-success-rate probably podinfo.test is not receiving traffic',
      evidence: { hint: expect.stringContaining('receiving traffic') },
    });
  });
});

describe('template and inline checks (docs/flagger-compatibility.md#42-metric-templates-and-providers)', () => {
  const template: MetricTemplate = {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'MetricTemplate',
    metadata: { name: 'latency', namespace: 'test' },
    spec: {
      provider: { type: 'prometheus', address: 'http://prometheus:9090' },
      query:
        'histogram_quantile(0.99, rate(x{ns="{{ namespace }}",ingress="{{ ingress }}",route="{{ route }}",svc="{{ service }}",n="{{ name }}",t="{{ target }}",c="{{ variables.cluster }}"}[{{ interval }}]))',
    },
  };

  it('renders every template field and variable, and fails above max', async () => {
    const deps = dependencies({ template, query: 0.7 });
    const subject = withMetrics({
      name: 'latency',
      templateRef: { name: 'latency' },
      interval: '30s',
      thresholdRange: { max: 0.5 },
      templateVariables: { cluster: 'eu-1' },
    });
    const [check] = DEFAULT_CHECK_REGISTRY.checksFor(subject);
    const outcome = await check!.evaluate(contextOf(subject, deps));
    expect(deps.queries).toEqual([
      'histogram_quantile(0.99, rate(x{ns="test",ingress="web",route="podinfo",svc="podinfo",n="podinfo",t="podinfo",c="eu-1"}[30s]))',
    ]);
    expect(outcome).toMatchObject({
      verdict: 'fail',
      value: 0.7,
      threshold: { max: 0.5 },
      message: 'Halt podinfo.test advancement latency 0.7 > 0.5',
    });
  });

  it("renders {{ route }} as the platform's route when it knows one (a Knative target's latest created revision), in templates and inline queries alike", async () => {
    const knative = {
      ...canary,
      spec: {
        provider: 'knative',
        targetRef: { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'hello' },
        analysis: {
          interval: '1m',
          threshold: 1,
          stepWeight: 10,
          metrics: [
            { name: 'latency', templateRef: { name: 'revision' }, thresholdRange: { max: 1 } },
            { name: 'errors', query: 'sum(e{route="{{ route }}"})', thresholdRange: { max: 1 } },
          ],
        },
      },
    } as Canary;
    const revision: MetricTemplate = {
      ...template,
      metadata: { name: 'revision', namespace: 'test' },
      spec: { ...template.spec, query: 'sum(x{configuration_name="{{ target }}",route="{{ route }}"})' },
    };
    const asked: Canary[] = [];
    const deps: CheckDependencies & { queries: string[] } = {
      ...dependencies({ template: revision, query: 0.1 }),
      routeOf: (subject) => {
        asked.push(subject);
        return Promise.resolve('hello-00002');
      },
    };
    for (const check of DEFAULT_CHECK_REGISTRY.checksFor(knative)) {
      expect((await check.evaluate(contextOf(knative, deps))).verdict).toBe('pass');
    }
    expect(deps.queries).toEqual([
      'sum(x{configuration_name="hello",route="hello-00002"})',
      'sum(e{route="hello-00002"})',
    ]);
    expect(asked).toEqual([knative, knative]);

    // Before Knative created a revision (the platform answers undefined), and on platforms without
    // the port: Flagger's routeRef.name or the target's name.
    const before = {
      ...dependencies({ template: revision, query: 0.1 }),
      routeOf: () => Promise.resolve(undefined),
    };
    const [templated] = DEFAULT_CHECK_REGISTRY.checksFor(knative);
    await templated!.evaluate(contextOf(knative, before));
    expect(before.queries).toEqual(['sum(x{configuration_name="hello",route="hello"})']);
  });

  it('names a missing template variable instead of querying', async () => {
    const outcome = await evaluate(
      { name: 'latency', templateRef: { name: 'latency' }, thresholdRange: { max: 1 } },
      { template, query: 0.1 },
    );
    expect(outcome).toMatchObject({
      verdict: 'fail',
      message: expect.stringContaining('template variable "cluster" is not set'),
    });
  });

  it('fails a missing template, naming it', async () => {
    const outcome = await evaluate({ name: 'latency', templateRef: { name: 'latency' } }, {});
    expect(outcome.message).toContain('MetricTemplate test/latency not found');
  });

  it('deprecated: without thresholdRange the threshold is a maximum, and an empty one fails any positive value', async () => {
    expect((await evaluate({ name: 'errors', query: 'sum(x)', threshold: 5 }, { query: 4 })).verdict).toBe(
      'pass',
    );
    expect((await evaluate({ name: 'errors', query: 'sum(x)', threshold: 5 }, { query: 6 })).verdict).toBe(
      'fail',
    );
    expect((await evaluate({ name: 'errors', query: 'sum(x)' }, { query: 0.1 })).verdict).toBe('fail');
  });

  it('fails a metric that is neither built in nor templated', async () => {
    expect(await evaluate({ name: 'mystery' }, {})).toMatchObject({
      verdict: 'fail',
      message: expect.stringContaining('not built in'),
    });
  });

  it('renderQuery rejects an unknown field', () => {
    expect(() => renderQuery('{{ pod }}', queryContext(canary, { name: 'x' }))).toThrow(
      'unknown template field {{ pod }}',
    );
  });
});

describe('check kinds come from a registry', () => {
  const judge = (name: string, seen: CheckContext[]): Check => ({
    name,
    evaluate: (context) => {
      seen.push(context);
      return Promise.resolve({ check: name, verdict: 'pass', message: `${name} passed` });
    },
  });

  it("Flagger's precedence: a templateRef wins over a built-in name, and a query is the last resort", async () => {
    const deps = dependencies({ template: { ...templateFixture }, query: 3, successRate: 42 });
    const subject = withMetrics(
      { name: 'request-success-rate', templateRef: { name: 'latency' } },
      { name: 'request-success-rate' },
      { name: 'errors', query: 'sum(x)', threshold: 5 },
    );
    const outcomes = await Promise.all(
      DEFAULT_CHECK_REGISTRY.checksFor(subject).map((check) => check.evaluate(contextOf(subject, deps))),
    );
    expect(outcomes.map((outcome) => [outcome.value, outcome.evidence?.['query']])).toEqual([
      [3, 'sum(y)'],
      [42, undefined],
      [3, 'sum(x)'],
    ]);
    expect(DEFAULT_CHECK_REGISTRY.kindNames).toEqual(['template', 'builtin', 'inline-query']);
  });

  it("a registered kind adds its checks before the metrics', and gets the step's context", async () => {
    const seen: CheckContext[] = [];
    const registry = DEFAULT_CHECK_REGISTRY.with({
      name: 'judge',
      forCanary: (subject) => (subject.metadata.name === 'podinfo' ? [judge('compare-arms', seen)] : []),
    });
    const subject = withMetrics({ name: 'request-success-rate', thresholdRange: { min: 99 } });
    const checks = registry.checksFor(subject);
    expect(checks.map((check) => check.name)).toEqual(['compare-arms', 'request-success-rate']);
    const context = contextOf(subject, dependencies({}));
    await checks[0]!.evaluate(context);
    expect(seen).toEqual([context]);
    expect(registry.checksFor({ ...subject, metadata: { name: 'other', namespace: 'test' } })).toHaveLength(
      1,
    );
  });

  it('a metric no kind claims is a failing check saying so; a kind registered twice is refused', async () => {
    const onlyBuiltin = new CheckRegistry([BUILTIN_CHECKS]);
    const subject = withMetrics({ name: 'errors', query: 'sum(x)' });
    const [check] = onlyBuiltin.checksFor(subject);
    expect(await check!.evaluate(contextOf(subject, dependencies({})))).toMatchObject({
      verdict: 'fail',
      message: expect.stringContaining('not built in'),
    });
    expect(() => onlyBuiltin.with(BUILTIN_CHECKS)).toThrow('check kind "builtin" is registered twice');
  });
});

const templateFixture: MetricTemplate = {
  apiVersion: 'flagger.app/v1beta1',
  kind: 'MetricTemplate',
  metadata: { name: 'latency', namespace: 'test' },
  spec: { provider: { type: 'prometheus', address: 'http://prometheus:9090' }, query: 'sum(y)' },
};
