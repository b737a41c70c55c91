/**
 * Typed errors of metric providers. Each says which provider failed, what came back and what to
 * check; none carries a credential (Secrets and auth headers are never echoed, response bodies
 * are cut short).
 */
import { MultipleValuesError, NoValuesFoundError } from '../engine/checks.js';
import { parseGoDuration } from '../api/duration.js';
import { VireoError } from '../shared/errors.js';

export { MultipleValuesError, NoValuesFoundError };

/** The backend could not be reached, refused the query, or answered something unreadable. */
export class MetricQueryError extends VireoError {
  /** HTTP status, when one arrived. */
  readonly status: number | undefined;

  constructor(message: string, options: { status?: number; cause?: unknown } = {}) {
    super('E_METRIC_QUERY', message, options.cause === undefined ? undefined : { cause: options.cause });
    this.status = options.status;
  }
}

/** The template's provider settings or Secret lack something the provider needs. */
export class MetricProviderConfigError extends VireoError {
  constructor(message: string) {
    super('E_METRIC_PROVIDER_CONFIG', message);
  }
}

/** `spec.provider.type` names no provider Vireo has. */
export class UnknownMetricProviderError extends VireoError {
  constructor(type: string, source: string, known: readonly string[]) {
    super(
      'E_UNKNOWN_METRIC_PROVIDER',
      `${source}: unknown metric provider type ${JSON.stringify(type)}; known types: ${known.join(', ')}`,
    );
  }
}

/** The standard hint of an empty answer: almost always a canary without traffic or a wrong selector. */
export function noValues(provider: string, detail: string): NoValuesFoundError {
  return new NoValuesFoundError(
    `${provider}: no values found (${detail}): is the canary receiving traffic, and does the query select its series?`,
  );
}

/** Reads a required Secret key, or says which key of which Secret is missing. */
export function requiredSecretKey(
  provider: string,
  secret: Readonly<Record<string, string>> | undefined,
  secretName: string | undefined,
  key: string,
): string {
  const value = secret?.[key];
  if (value !== undefined && value !== '') return value;
  const named = secretLabel(secretName);
  throw new MetricProviderConfigError(
    secret === undefined
      ? `${provider} needs credentials: set spec.provider.secretRef to a Secret with the key "${key}"`
      : `${provider}: ${named} has no "${key}" key: add it`,
  );
}

/** "the Secret \"name\"" for messages, or "the Secret" when the name is unknown. */
export function secretLabel(secretName: string | undefined): string {
  return secretName === undefined ? 'the Secret' : `the Secret "${secretName}"`;
}

/**
 * The metric's interval in milliseconds, which sizes every provider's query window; an interval
 * that is not a positive Go duration is a configuration error naming the provider.
 */
export function metricIntervalMs(provider: string, interval: string): number {
  const milliseconds = parseGoDuration(interval);
  if (milliseconds === undefined || milliseconds <= 0) {
    throw new MetricProviderConfigError(
      `${provider}: the metric interval ${JSON.stringify(interval)} is not a positive duration such as "1m"`,
    );
  }
  return milliseconds;
}
