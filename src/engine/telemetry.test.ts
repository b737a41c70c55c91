import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Canary, CanaryPhase } from '../api/schema/canary.js';
import { ControllerMetrics, FLAGGER_DURATION_BUCKETS } from './telemetry.js';

/** The Canary is named differently from its target: Flagger labels series with the target. */
const podinfo = {
  apiVersion: 'flagger.app/v1beta1',
  kind: 'Canary',
  metadata: { name: 'podinfo-canary', namespace: 'test' },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    analysis: { interval: '1m', threshold: 5, stepWeight: 10 },
  },
} as Canary;

function setup() {
  const registry = new Registry();
  return { registry, metrics: new ControllerMetrics({ registry }) };
}

/** The exposition lines of one metric family, without HELP and TYPE. */
async function samples(metrics: ControllerMetrics, family: string): Promise<string[]> {
  const text = await metrics.metrics();
  return text.split('\n').filter((line) => line.startsWith(`${family}{`) || line.startsWith(`${family} `));
}

describe('ControllerMetrics: Flagger series for its Grafana dashboard', () => {
  it('flagger_info', async () => {
    const { metrics } = setup();
    metrics.setInfo('0.1.0', 'nginx');
    expect(await samples(metrics, 'flagger_info')).toEqual([
      'flagger_info{version="0.1.0",mesh_provider="nginx"} 1',
    ]);
  });

  it('flagger_canary_total', async () => {
    const { metrics } = setup();
    metrics.setCanaryTotal('test', 3);
    metrics.setCanaryTotal('prod', 1);
    expect(await samples(metrics, 'flagger_canary_total')).toEqual([
      'flagger_canary_total{namespace="test"} 3',
      'flagger_canary_total{namespace="prod"} 1',
    ]);
  });

  it.each<[CanaryPhase, number]>([
    ['Progressing', 0],
    ['Failed', 2],
    ['Succeeded', 1],
    ['Initialized', 1],
    ['WaitingPromotion', 1],
    ['Promoting', 1],
    ['', 1],
  ])('flagger_canary_status for %j is %d', async (phase, value) => {
    const { metrics } = setup();
    metrics.setStatus(podinfo, phase);
    expect(await samples(metrics, 'flagger_canary_status')).toEqual([
      `flagger_canary_status{name="podinfo",namespace="test"} ${value}`,
    ]);
  });

  it('flagger_canary_weight for the primary and the canary workloads', async () => {
    const { metrics } = setup();
    metrics.setWeights(podinfo, 90, 10);
    metrics.setWeights(podinfo, 80, 20);
    expect(await samples(metrics, 'flagger_canary_weight')).toEqual([
      'flagger_canary_weight{workload="podinfo-primary",namespace="test"} 80',
      'flagger_canary_weight{workload="podinfo",namespace="test"} 20',
    ]);
  });

  it('flagger_canary_metric_analysis, with request-duration in seconds', async () => {
    const { metrics } = setup();
    metrics.setMetricValue(podinfo, 'request-success-rate', 99.5);
    metrics.setRequestDuration(podinfo, 'request-duration', 250);
    expect(await samples(metrics, 'flagger_canary_metric_analysis')).toEqual([
      'flagger_canary_metric_analysis{name="podinfo",namespace="test",metric="request-success-rate"} 99.5',
      'flagger_canary_metric_analysis{name="podinfo",namespace="test",metric="request-duration"} 0.25',
    ]);
  });

  it('vireo_canary_metric_threshold: the bounds of each check, a bound that went away removed', async () => {
    const { metrics } = setup();
    metrics.setMetricThreshold(podinfo, 'request-success-rate', { min: 99 });
    metrics.setMetricThreshold(podinfo, 'request-duration', { min: 0, max: 0.5 });
    expect(await samples(metrics, 'vireo_canary_metric_threshold')).toEqual([
      'vireo_canary_metric_threshold{name="podinfo",namespace="test",metric="request-success-rate",bound="min"} 99',
      'vireo_canary_metric_threshold{name="podinfo",namespace="test",metric="request-duration",bound="min"} 0',
      'vireo_canary_metric_threshold{name="podinfo",namespace="test",metric="request-duration",bound="max"} 0.5',
    ]);
    metrics.setMetricThreshold(podinfo, 'request-duration', { max: 0.5 });
    expect(await samples(metrics, 'vireo_canary_metric_threshold')).not.toContain(
      'vireo_canary_metric_threshold{name="podinfo",namespace="test",metric="request-duration",bound="min"} 0',
    );
  });

  it("flagger_canary_duration_seconds with Go's default buckets", async () => {
    const { metrics } = setup();
    metrics.observeTickDuration(podinfo, 0.3);
    metrics.observeTickDuration(podinfo, 4);
    const lines = await samples(metrics, 'flagger_canary_duration_seconds_bucket');
    expect(lines.map((line) => /le="([^"]+)"/.exec(line)?.[1])).toEqual([
      ...FLAGGER_DURATION_BUCKETS.map(String),
      '+Inf',
    ]);
    expect(lines).toContain(
      'flagger_canary_duration_seconds_bucket{le="0.25",name="podinfo",namespace="test"} 0',
    );
    expect(lines).toContain(
      'flagger_canary_duration_seconds_bucket{le="0.5",name="podinfo",namespace="test"} 1',
    );
    expect(lines).toContain(
      'flagger_canary_duration_seconds_bucket{le="+Inf",name="podinfo",namespace="test"} 2',
    );
    expect(await samples(metrics, 'flagger_canary_duration_seconds_count')).toEqual([
      'flagger_canary_duration_seconds_count{name="podinfo",namespace="test"} 2',
    ]);
    expect(await samples(metrics, 'flagger_canary_duration_seconds_sum')).toEqual([
      'flagger_canary_duration_seconds_sum{name="podinfo",namespace="test"} 4.3',
    ]);
  });

  it('pins the buckets to prometheus.DefBuckets', () => {
    expect(FLAGGER_DURATION_BUCKETS).toEqual([0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]);
  });

  it('flagger_canary_successes_total and flagger_canary_failures_total', async () => {
    const { metrics } = setup();
    metrics.countSuccess(podinfo, 'canary', 'completed');
    metrics.countSuccess(podinfo, 'canary', 'completed');
    metrics.countSuccess(podinfo, 'blue-green', 'skipped');
    metrics.countFailure(podinfo, 'ab-testing');
    expect(await samples(metrics, 'flagger_canary_successes_total')).toEqual([
      'flagger_canary_successes_total{name="podinfo",namespace="test",deployment_strategy="canary",analysis_status="completed"} 2',
      'flagger_canary_successes_total{name="podinfo",namespace="test",deployment_strategy="blue-green",analysis_status="skipped"} 1',
    ]);
    expect(await samples(metrics, 'flagger_canary_failures_total')).toEqual([
      'flagger_canary_failures_total{name="podinfo",namespace="test",deployment_strategy="ab-testing",analysis_status="completed"} 1',
    ]);
  });

  it("declares Flagger's metric types and help texts", async () => {
    const { metrics } = setup();
    const text = await metrics.metrics();
    for (const line of [
      '# TYPE flagger_info gauge',
      '# TYPE flagger_canary_total gauge',
      '# TYPE flagger_canary_status gauge',
      '# HELP flagger_canary_weight The virtual service destination weight current value',
      '# TYPE flagger_canary_weight gauge',
      '# TYPE flagger_canary_metric_analysis gauge',
      '# HELP flagger_canary_duration_seconds Seconds spent performing canary analysis.',
      '# TYPE flagger_canary_duration_seconds histogram',
      '# TYPE flagger_canary_successes_total counter',
      '# TYPE flagger_canary_failures_total counter',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
  });

  it('labels a canary without a namespace as default', async () => {
    const { metrics } = setup();
    metrics.setStatus({ ...podinfo, metadata: { name: 'podinfo' } }, 'Progressing');
    expect(await samples(metrics, 'flagger_canary_status')).toEqual([
      'flagger_canary_status{name="podinfo",namespace="default"} 0',
    ]);
  });
});

describe('ControllerMetrics: Vireo additions', () => {
  it('vireo_webhook_calls_total, an empty hook type counting as rollout', async () => {
    const { metrics } = setup();
    metrics.countWebhook('confirm-rollout', false);
    metrics.countWebhook('', true);
    metrics.countWebhook(undefined, true);
    expect(await samples(metrics, 'vireo_webhook_calls_total')).toEqual([
      'vireo_webhook_calls_total{type="confirm-rollout",result="failure"} 1',
      'vireo_webhook_calls_total{type="rollout",result="success"} 2',
    ]);
  });

  it('vireo_alerts_total', async () => {
    const { metrics } = setup();
    metrics.countAlertDelivery('slack', 'sent');
    metrics.countAlertDelivery('msteams', 'failed');
    expect(await samples(metrics, 'vireo_alerts_total')).toEqual([
      'vireo_alerts_total{provider_type="slack",result="sent"} 1',
      'vireo_alerts_total{provider_type="msteams",result="failed"} 1',
    ]);
  });

  it('vireo_alert_retries_total counts requests sent again, not messages', async () => {
    const { metrics } = setup();
    metrics.countAlertRetries('slack', 2);
    metrics.countAlertRetries('slack', 1);
    metrics.countAlertRetries('msteams', 0);
    expect(await samples(metrics, 'vireo_alert_retries_total')).toEqual([
      'vireo_alert_retries_total{provider_type="slack"} 3',
    ]);
  });

  it('vireo_alerts_queued and vireo_alerts_dropped_total', async () => {
    const { metrics } = setup();
    metrics.setAlertsQueued(4);
    metrics.countAlertDropped('queue-full');
    metrics.countAlertDropped('shutdown');
    metrics.countAlertDropped('shutdown');
    expect(await samples(metrics, 'vireo_alerts_queued')).toEqual(['vireo_alerts_queued 4']);
    expect(await samples(metrics, 'vireo_alerts_dropped_total')).toEqual([
      'vireo_alerts_dropped_total{reason="queue-full"} 1',
      'vireo_alerts_dropped_total{reason="shutdown"} 2',
    ]);
  });
});

describe('ControllerMetrics: registry ownership', () => {
  it('registers only on the registry it is given', async () => {
    const first = setup();
    const second = setup();
    first.metrics.setCanaryTotal('test', 1);
    expect(await samples(second.metrics, 'flagger_canary_total')).toEqual([]);
    expect(first.registry.getSingleMetric('flagger_canary_total')).toBeDefined();
  });

  it('adds the process metrics only when asked', async () => {
    const plain = setup();
    expect(await plain.metrics.metrics()).not.toContain('process_cpu_user_seconds_total');

    const registry = new Registry();
    const withDefaults = new ControllerMetrics({ registry, collectDefaultMetrics: true });
    expect(await withDefaults.metrics()).toContain('process_cpu_user_seconds_total');
    expect(withDefaults.contentType).toContain('text/plain');
  });
});
