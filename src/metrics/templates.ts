/**
 * The engine's MetricTemplates port: finds a canary's MetricTemplate, reads the Secret its
 * provider names (from the template's namespace, docs/flagger-compatibility.md#42-metric-templates-and-providers) and builds the provider. A
 * provider is built per check, as Flagger does, so a rotated Secret takes effect at the next
 * check without a restart.
 */
import type { Canary } from '../api/schema/canary.js';
import type { MetricTemplate } from '../api/schema/metric-template.js';
import type { MetricsProvider, MetricTemplates } from '../engine/checks.js';
import { formatKey, keyOf } from '../engine/ports.js';
import type { SecretReader } from '../secrets/secret-reader.js';
import { DEFAULT_METRICS_SERVER } from './builtin-metrics.js';
import { MetricProviderConfigError } from './errors.js';
import { createMetricsProvider, settingsOf } from './factory.js';
import { DEFAULT_METRIC_INTERVAL, type ProviderDeps } from './provider.js';
import { PrometheusProvider } from './providers/prometheus.js';

export interface TemplateLookup {
  get(namespace: string, name: string): Promise<MetricTemplate | undefined>;
}

export interface BackendMetricTemplatesOptions {
  readonly lookup: TemplateLookup;
  /** Absent where no Secret can be read: templates with a secretRef then fail with a clear error. */
  readonly secrets?: SecretReader;
  /** `--metrics-server`, for deprecated inline queries of canaries without `spec.metricsServer`. */
  readonly metricsServer?: string;
  readonly deps?: ProviderDeps;
}

export class BackendMetricTemplates implements MetricTemplates {
  constructor(private readonly options: BackendMetricTemplatesOptions) {}

  get(namespace: string, name: string): Promise<MetricTemplate | undefined> {
    return this.options.lookup.get(namespace, name);
  }

  async providerFor(template: MetricTemplate, interval: string): Promise<MetricsProvider> {
    const secretName = template.spec.provider.secretRef?.name;
    const namespace = template.metadata.namespace ?? 'default';
    let secret: Readonly<Record<string, string>> | undefined;
    if (secretName !== undefined) {
      if (this.options.secrets === undefined) {
        throw new MetricProviderConfigError(
          `MetricTemplate ${namespace}/${template.metadata.name} names the Secret "${secretName}" but no Secret source is configured`,
        );
      }
      secret = await this.options.secrets.read(namespace, secretName);
    }
    return createMetricsProvider(
      template.spec.provider.type,
      settingsOf(template, interval, secret),
      this.options.deps,
    );
  }

  inlineProvider(canary: Canary): Promise<MetricsProvider> {
    return Promise.resolve(
      new PrometheusProvider(
        {
          source: `inline query of canary ${formatKey(keyOf(canary))}`,
          address: canary.spec.metricsServer ?? this.options.metricsServer ?? DEFAULT_METRICS_SERVER,
          interval: DEFAULT_METRIC_INTERVAL,
        },
        this.options.deps,
      ),
    );
  }
}
