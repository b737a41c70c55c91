/**
 * How a Canary enables the sequential judge: the annotation `vireo.dev/judge` holding a JSON
 * object (`'{}'` for the defaults). An annotation rather than a field of `analysis`: Flagger's
 * CRD declares every field of `analysis` and would prune ours on a cluster that keeps it, which
 * would turn the judge off without a word (docs/judge.md "Enabling it",
 * docs/adr/0033-sequential-judge.md).
 */
import type { Canary } from '../../api/schema/canary.js';
import { VireoError } from '../../shared/errors.js';

export const JUDGE_ANNOTATION = 'vireo.dev/judge';

export interface ErrorRateSettings {
  /** Roll back when the canary's error rate is shown above `margin` × the primary's. */
  readonly margin: number;
  /**
   * Hold the weight until a canary with this error rate (0–1) would have been caught; 0 never
   * holds. The error-rate regression every step must be able to see.
   */
  readonly detect: number;
}

export interface LatencySettings {
  /** The primary's quantile (0.5 for the median, 0.99 for p99). */
  readonly quantile: number;
  /**
   * Roll back when the canary's requests are shown slower than the primary's `quantile` more than
   * `margin` times as often as the primary's own requests.
   */
  readonly margin: number;
}

export interface JudgeSettings {
  /** The false-rollback bound over the whole analysis, shared by every metric (0–0.5). */
  readonly bound: number;
  readonly errors?: ErrorRateSettings;
  readonly latency: readonly LatencySettings[];
}

export const DEFAULT_JUDGE_SETTINGS: JudgeSettings = {
  bound: 0.05,
  errors: { margin: 1.5, detect: 0.01 },
  latency: [{ quantile: 0.99, margin: 2 }],
};

/** The annotation does not describe judge settings; the message names the field and what to write. */
export class JudgeSettingsError extends VireoError {
  constructor(message: string) {
    super('E_JUDGE_SETTINGS', `annotation ${JUDGE_ANNOTATION}: ${message} (docs/judge.md "Settings")`);
  }
}

/** Whether the canary enables the judge. */
export function judgeEnabled(canary: Canary): boolean {
  return canary.metadata.annotations?.[JUDGE_ANNOTATION] !== undefined;
}

/** The canary's judge settings, or undefined when it does not enable the judge. Throws JudgeSettingsError. */
export function judgeSettingsOf(canary: Canary): JudgeSettings | undefined {
  const text = canary.metadata.annotations?.[JUDGE_ANNOTATION];
  if (text === undefined) return undefined;
  return parseJudgeSettings(text);
}

export function parseJudgeSettings(text: string): JudgeSettings {
  let raw: unknown;
  try {
    raw = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    throw new JudgeSettingsError(`is not JSON; write a JSON object such as '{}' or '{"bound": 0.05}'`);
  }
  const object = asObject(raw, 'the value', ['bound', 'errors', 'latency']);
  const bound = optionalNumber(object, 'bound', DEFAULT_JUDGE_SETTINGS.bound, { above: 0, atMost: 0.5 });

  let errors: ErrorRateSettings | undefined = DEFAULT_JUDGE_SETTINGS.errors;
  if (object.errors === false) errors = undefined;
  else if (object.errors !== undefined) {
    const fields = asObject(object.errors, 'errors', ['margin', 'detect']);
    errors = {
      margin: optionalNumber(
        fields,
        'margin',
        DEFAULT_JUDGE_SETTINGS.errors!.margin,
        { atLeast: 1 },
        'errors.',
      ),
      detect: optionalNumber(
        fields,
        'detect',
        DEFAULT_JUDGE_SETTINGS.errors!.detect,
        { atLeast: 0, below: 1 },
        'errors.',
      ),
    };
  }

  let latency = DEFAULT_JUDGE_SETTINGS.latency;
  if (object.latency === false) latency = [];
  else if (object.latency !== undefined) {
    if (!Array.isArray(object.latency)) {
      throw new JudgeSettingsError(
        'latency must be a list such as [{"quantile": 0.99, "margin": 2}], or false',
      );
    }
    latency = object.latency.map((entry: unknown, index) => {
      const fields = asObject(entry, `latency[${index}]`, ['quantile', 'margin']);
      const prefix = `latency[${index}].`;
      const quantile = optionalNumber(fields, 'quantile', 0.99, { above: 0, below: 1 }, prefix);
      const margin = optionalNumber(fields, 'margin', 2, { atLeast: 1 }, prefix);
      if (margin * (1 - quantile) >= 1) {
        throw new JudgeSettingsError(
          `${prefix}margin ${margin} × (1 − quantile ${quantile}) is at least 1, so no canary could be shown worse; lower the margin`,
        );
      }
      return { quantile, margin };
    });
  }
  if (errors === undefined && latency.length === 0) {
    throw new JudgeSettingsError('errors and latency are both off, so the judge has nothing to decide');
  }
  return { bound, ...(errors === undefined ? {} : { errors }), latency };
}

function asObject(value: unknown, what: string, known: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new JudgeSettingsError(`${what} must be a JSON object`);
  }
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).find((key) => !known.includes(key));
  if (unknown !== undefined) {
    throw new JudgeSettingsError(
      `${what} has an unknown field "${unknown}"; known fields: ${known.join(', ')}`,
    );
  }
  return record;
}

interface Limits {
  readonly above?: number;
  readonly atLeast?: number;
  readonly below?: number;
  readonly atMost?: number;
}

function optionalNumber(
  record: Record<string, unknown>,
  field: string,
  fallback: number,
  limits: Limits,
  prefix = '',
): number {
  const value = record[field];
  if (value === undefined) return fallback;
  const range = [
    limits.above === undefined ? '' : `above ${limits.above}`,
    limits.atLeast === undefined ? '' : `at least ${limits.atLeast}`,
    limits.below === undefined ? '' : `below ${limits.below}`,
    limits.atMost === undefined ? '' : `at most ${limits.atMost}`,
  ]
    .filter((part) => part !== '')
    .join(' and ');
  if (
    typeof value !== 'number' ||
    !Number.isFinite(value) ||
    (limits.above !== undefined && value <= limits.above) ||
    (limits.atLeast !== undefined && value < limits.atLeast) ||
    (limits.below !== undefined && value >= limits.below) ||
    (limits.atMost !== undefined && value > limits.atMost)
  ) {
    throw new JudgeSettingsError(`${prefix}${field} must be a number ${range}, not ${JSON.stringify(value)}`);
  }
  return value;
}
