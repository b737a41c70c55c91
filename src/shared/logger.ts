/**
 * Structured JSON logs with pino, built and injected (no module-level logger), keyed as Flagger's
 * zap JSON logs are (`level`, `ts` in ISO 8601, `msg`, `canary` as "name.namespace", `error`), so
 * log queries and pipelines written for Flagger carry over (docs/flagger-compatibility.md#8-telemetry).
 * Anything that can hold a credential is redacted before it is written.
 */
import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger } from 'pino';

export const REDACTED_PATHS = [
  'headers.authorization',
  'headers.Authorization',
  '*.headers.authorization',
  '*.headers.Authorization',
  'token',
  '*.token',
  'password',
  '*.password',
  'secret',
  '*.secret',
  'address',
  '*.address',
];

export interface LoggerOptions {
  level?: string;
  /** Where JSON lines go (default: standard error, as Flagger). */
  destination?: DestinationStream;
}

/**
 * What Vireo's modules log through: pino's Logger satisfies it, and so does a test's recorder.
 * A module that needs only some levels asks for `Pick<LogWriter, 'warn'>` and the like, so a
 * test hands it no more than it uses.
 */
export interface LogWriter {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/** A logger that writes nothing: the default where a caller injects none (tests, library use). */
export function silentLogger(): Logger {
  return pino({ enabled: false });
}

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      base: undefined,
      // zap's ISO 8601 encoder writes the same text: 2026-12-06T21:00:00.000Z.
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      errorKey: 'error',
      formatters: { level: (label) => ({ level: label }), log: zapErrorKey },
      serializers: { err: pino.stdSerializers.err, error: pino.stdSerializers.err },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    options.destination ?? pino.destination(2),
  );
}

/** Code logs an error as `err` (pino's habit) or `error`; the line says `error`, as zap's do. */
function zapErrorKey(fields: Record<string, unknown>): Record<string, unknown> {
  if (!('err' in fields) || 'error' in fields) return fields;
  const { err, ...rest } = fields;
  return { ...rest, error: err };
}
