/**
 * Builds the metric provider of a MetricTemplate by `spec.provider.type`. An unknown type is an
 * error listing the known ones: Flagger's habit of treating anything unknown as Prometheus turns
 * a typo into queries against the wrong backend.
 */
import type { MetricTemplate } from '../api/schema/metric-template.js';
import { UnknownMetricProviderError } from './errors.js';
import type { CreateMetricsBackend, MetricsBackend, ProviderDeps, ProviderSettings } from './provider.js';

type LoadBackend = () => Promise<CreateMetricsBackend>;

/**
 * Loaded on first use: the vendors' clients (AWS, Google, InfluxDB, Datadog, client-node) cost
 * about a second of import together, which every CLI command would otherwise pay.
 */
const IMPLEMENTATIONS: Readonly<Record<string, LoadBackend>> = {
  prometheus: async () => {
    const { PrometheusProvider } = await import('./providers/prometheus.js');
    return (settings, deps) => new PrometheusProvider(settings, deps);
  },
  datadog: async () => {
    const { DatadogProvider } = await import('./providers/datadog.js');
    return (settings, deps) => new DatadogProvider(settings, deps);
  },
  newrelic: async () => {
    const { NewRelicProvider } = await import('./providers/newrelic.js');
    return (settings, deps) => new NewRelicProvider(settings, deps);
  },
  dynatrace: async () => {
    const { DynatraceProvider } = await import('./providers/dynatrace.js');
    return (settings, deps) => new DynatraceProvider(settings, deps);
  },
  graphite: async () => {
    const { GraphiteProvider } = await import('./providers/graphite.js');
    return (settings, deps) => new GraphiteProvider(settings, deps);
  },
  influxdb: async () => {
    const { InfluxDBProvider } = await import('./providers/influxdb.js');
    return (settings, deps) => new InfluxDBProvider(settings, deps);
  },
  cloudwatch: async () => {
    const { CloudWatchProvider } = await import('./providers/cloudwatch.js');
    return (settings, deps) => new CloudWatchProvider(settings, deps);
  },
  stackdriver: async () => {
    const { StackdriverProvider } = await import('./providers/stackdriver.js');
    return (settings, deps) => new StackdriverProvider(settings, deps);
  },
  splunk: async () => {
    const { SplunkProvider } = await import('./providers/splunk.js');
    return (settings, deps) => new SplunkProvider(settings, deps);
  },
  skywalking: async () => {
    const { SkyWalkingProvider } = await import('./providers/skywalking.js');
    return (settings, deps) => new SkyWalkingProvider(settings, deps);
  },
  keptn: async () => {
    const { KeptnProvider } = await import('./providers/keptn.js');
    return (settings, deps) => new KeptnProvider(settings, deps);
  },
  externalmetrics: async () => {
    const { ExternalMetricsProvider } = await import('./providers/externalmetrics.js');
    return (settings, deps) => new ExternalMetricsProvider(settings, deps);
  },
};

export const METRIC_PROVIDER_IMPLEMENTATIONS: readonly string[] = Object.keys(IMPLEMENTATIONS);

export async function createMetricsProvider(
  type: string,
  settings: ProviderSettings,
  deps: ProviderDeps = {},
): Promise<MetricsBackend> {
  const load = Object.hasOwn(IMPLEMENTATIONS, type) ? IMPLEMENTATIONS[type] : undefined;
  if (load === undefined) {
    throw new UnknownMetricProviderError(type, settings.source, METRIC_PROVIDER_IMPLEMENTATIONS);
  }
  const create = await load();
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
