/**
 * The metric provider contract (docs/flagger-compatibility.md#42-metric-templates-and-providers): one implementation per MetricTemplate
 * `spec.provider.type`, built by `createMetricsProvider` in ./factory.ts.
 *
 * A provider turns one rendered query into one number. Everything that can go wrong becomes a
 * typed error (./errors.ts) whose message names the provider and says what to check; the engine
 * turns it into one failed check, never a crash.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Dispatcher } from 'undici';
import type { MetricsProvider } from '../engine/checks.js';
import type { Logger } from '../shared/logger.js';

export interface MetricsBackend extends MetricsProvider {
  /** `spec.provider.type`, for messages. */
  readonly type: string;
  /** The single value of a rendered query; throws NoValuesFoundError, MultipleValuesError, MetricQueryError. */
  queryValue(query: string): Promise<number>;
  /** Whether the backend answers with these credentials; throws a MetricQueryError saying why not. */
  isOnline(): Promise<boolean>;
}

/** What a provider is built from: the template's `spec.provider`, its Secret and the metric's interval. */
export interface ProviderSettings {
  /** `namespace/name` of the MetricTemplate (or a description such as "built-in checks"), for messages. */
  readonly source: string;
  readonly address?: string | undefined;
  /** `spec.provider.headers`: replace the request headers of the same name. */
  readonly headers?: Readonly<Record<string, readonly string[]>> | undefined;
  /** Decoded data of the Secret named by `spec.provider.secretRef`, if any. */
  readonly secret?: Readonly<Record<string, string>> | undefined;
  /** Name of that Secret, for messages about missing keys. */
  readonly secretName?: string | undefined;
  readonly region?: string | undefined;
  readonly insecureSkipVerify?: boolean | undefined;
  /** The canary metric's interval as a Go duration ("1m", "30s"); windows are sized by it. */
  readonly interval: string;
}

export interface ProviderDeps {
  /** Current time; providers that query a window ending now read it here. */
  readonly now?: () => Date;
  /** HTTP dispatcher (tests inject one; insecureSkipVerify builds its own). */
  readonly dispatcher?: Dispatcher;
  /** Per-request timeout; each provider has Flagger's default otherwise. */
  readonly timeoutMs?: number;
  /** Kubernetes access for keptn and externalmetrics. */
  readonly kubeConfig?: KubeConfig;
  readonly logger?: Logger;
}

export type CreateMetricsBackend = (settings: ProviderSettings, deps: ProviderDeps) => MetricsBackend;

export const DEFAULT_METRIC_INTERVAL = '1m';
