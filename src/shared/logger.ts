/**
 * Structured JSON logs with pino, built and injected (no module-level logger). Flagger's keys are
 * kept where they exist (`level`, `msg`, `canary` as "name.namespace") so log queries carry over.
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
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    },
    options.destination ?? pino.destination(2),
  );
}
