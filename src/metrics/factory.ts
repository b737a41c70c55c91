/**
 * Builds the metric provider of a MetricTemplate by `spec.provider.type`. An unknown type is an
 * error listing the known ones: Flagger's habit of treating anything unknown as Prometheus turns
 * a typo into queries against the wrong backend.
 */
import type { MetricTemplate } from '../api/schema/metric-template.js';
import { UnknownMetricProviderError } from './errors.js';
import type { CreateMetricsBackend, MetricsBackend, ProviderDeps, ProviderSettings } from './provider.js';
import { CloudWatchProvider } from './providers/cloudwatch.js';
import { DatadogProvider } from './providers/datadog.js';
import { DynatraceProvider } from './providers/dynatrace.js';
import { ExternalMetricsProvider } from './providers/externalmetrics.js';
import { GraphiteProvider } from './providers/graphite.js';
import { InfluxDBProvider } from './providers/influxdb.js';
import { KeptnProvider } from './providers/keptn.js';
import { NewRelicProvider } from './providers/newrelic.js';
import { PrometheusProvider } from './providers/prometheus.js';
import { SkyWalkingProvider } from './providers/skywalking.js';
import { SplunkProvider } from './providers/splunk.js';
import { StackdriverProvider } from './providers/stackdriver.js';

const IMPLEMENTATIONS: Readonly<Record<string, CreateMetricsBackend>> = {
  prometheus: (settings, deps) => new PrometheusProvider(settings, deps),
  datadog: (settings, deps) => new DatadogProvider(settings, deps),
  newrelic: (settings, deps) => new NewRelicProvider(settings, deps),
  dynatrace: (settings, deps) => new DynatraceProvider(settings, deps),
  graphite: (settings, deps) => new GraphiteProvider(settings, deps),
  influxdb: (settings, deps) => new InfluxDBProvider(settings, deps),
  cloudwatch: (settings, deps) => new CloudWatchProvider(settings, deps),
  stackdriver: (settings, deps) => new StackdriverProvider(settings, deps),
  splunk: (settings, deps) => new SplunkProvider(settings, deps),
  skywalking: (settings, deps) => new SkyWalkingProvider(settings, deps),
  keptn: (settings, deps) => new KeptnProvider(settings, deps),
  externalmetrics: (settings, deps) => new ExternalMetricsProvider(settings, deps),
};

export const METRIC_PROVIDER_IMPLEMENTATIONS: readonly string[] = Object.keys(IMPLEMENTATIONS);

export function createMetricsProvider(
  type: string,
  settings: ProviderSettings,
  deps: ProviderDeps = {},
): MetricsBackend {
  const create = Object.hasOwn(IMPLEMENTATIONS, type) ? IMPLEMENTATIONS[type] : undefined;
  if (create === undefined) {
    throw new UnknownMetricProviderError(type, settings.source, METRIC_PROVIDER_IMPLEMENTATIONS);
  }
  return create(settings, deps);
}

/** The settings of a template's provider; the caller has read its Secret. */
export function settingsOf(
  template: MetricTemplate,
  interval: string,
  secret: Readonly<Record<string, string>> | undefined,
): ProviderSettings {
  const { provider } = template.spec;
  return {
    source: `MetricTemplate ${template.metadata.namespace ?? 'default'}/${template.metadata.name}`,
    address: provider.address,
    headers: provider.headers,
    secret,
    secretName: provider.secretRef?.name,
    region: provider.region,
    insecureSkipVerify: provider.insecureSkipVerify,
    interval,
  };
}
