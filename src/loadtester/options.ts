/**
 * The loadtester's settings: defaults, and the reading of `vireo loadtester` flags into them.
 * Every mistake is a UsageError naming the flag.
 */
import { formatDuration, parseGoDuration } from '../api/duration.js';
import { UsageError } from '../shared/errors.js';
import { TOKEN_ENVIRONMENT_VARIABLE } from './runner.js';
import { DEFAULT_ALLOWED_COMMANDS, parseAllowEntry, type CommandPolicy } from './commands.js';

export const DEFAULT_PORT = 8080;
export const DEFAULT_HOST = '0.0.0.0';
export const DEFAULT_COMMAND_TIMEOUT_MS = 3_600_000;
export const DEFAULT_STATE_FILE = './.vireo/loadtester-gates.json';
export const DEFAULT_MAX_CONCURRENT = 8;
export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface LoadtesterSettings {
  /** Bearer token every route but GET /healthz requires; undefined = no authentication. */
  readonly token?: string | undefined;
  readonly policy: CommandPolicy;
  /** Payload namespaces must match (unanchored, as Flagger's -namespace-regexp); undefined = all. */
  readonly namespacePattern?: RegExp | undefined;
  /** Cap for every command; `metadata.timeout` may only shorten it. */
  readonly commandTimeoutMs: number;
  readonly stateFile: string;
  readonly maxConcurrent: number;
  readonly bodyLimitBytes: number;
}

export function defaultSettings(overrides: Partial<LoadtesterSettings> = {}): LoadtesterSettings {
  return {
    policy: { allowAnyCommand: false, allowed: DEFAULT_ALLOWED_COMMANDS.map(parseAllowEntry) },
    commandTimeoutMs: DEFAULT_COMMAND_TIMEOUT_MS,
    stateFile: DEFAULT_STATE_FILE,
    maxConcurrent: DEFAULT_MAX_CONCURRENT,
    bodyLimitBytes: DEFAULT_BODY_LIMIT_BYTES,
    ...overrides,
  };
}

/** The flags as commander hands them over. */
export interface LoadtesterFlags {
  readonly port?: string;
  readonly host?: string;
  readonly token?: string;
  readonly allowAnyCommand?: boolean;
  readonly allowCommand?: readonly string[];
  /** false with --no-default-commands. */
  readonly defaultCommands?: boolean;
  readonly namespaceRegexp?: string;
  readonly timeout?: string;
  readonly stateFile?: string;
  readonly maxConcurrent?: string;
  readonly bodyLimit?: string;
  readonly logLevel?: string;
}

export interface ResolvedFlags {
  readonly settings: LoadtesterSettings;
  readonly host: string;
  readonly port: number;
  readonly logLevel: string;
}

function wholeNumber(flag: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}

export function resolveFlags(flags: LoadtesterFlags, env: NodeJS.ProcessEnv): ResolvedFlags {
  const port = flags.port === undefined ? DEFAULT_PORT : wholeNumber('--port', flags.port, 0, 65_535);
  const tokenText = flags.token ?? env[TOKEN_ENVIRONMENT_VARIABLE];
  const token = tokenText === undefined || tokenText === '' ? undefined : tokenText;
  if (token !== undefined && /[\s\0]/.test(token)) {
    throw new UsageError(`the token (--token or ${TOKEN_ENVIRONMENT_VARIABLE}) must not contain whitespace`);
  }

  let commandTimeoutMs = DEFAULT_COMMAND_TIMEOUT_MS;
  if (flags.timeout !== undefined) {
    const parsed = parseGoDuration(flags.timeout);
    if (parsed === undefined || parsed <= 0) {
      throw new UsageError(
        `--timeout must be a Go duration above 0 such as 30m or 1h, got "${flags.timeout}"`,
      );
    }
    commandTimeoutMs = parsed;
  }

  let namespacePattern: RegExp | undefined;
  if (flags.namespaceRegexp !== undefined && flags.namespaceRegexp !== '') {
    try {
      namespacePattern = new RegExp(flags.namespaceRegexp);
    } catch (cause) {
      throw new UsageError(
        `--namespace-regexp "${flags.namespaceRegexp}" is not a regular expression: ${(cause as Error).message}`,
      );
    }
  }

  const logLevel = flags.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);
  }

  const defaults = flags.defaultCommands === false ? [] : DEFAULT_ALLOWED_COMMANDS;
  const allowed = [...defaults, ...(flags.allowCommand ?? [])].map(parseAllowEntry);

  return {
    host: flags.host ?? DEFAULT_HOST,
    port,
    logLevel,
    settings: {
      token,
      policy: { allowAnyCommand: flags.allowAnyCommand === true, allowed },
      namespacePattern,
      commandTimeoutMs,
      stateFile: flags.stateFile ?? DEFAULT_STATE_FILE,
      maxConcurrent:
        flags.maxConcurrent === undefined
          ? DEFAULT_MAX_CONCURRENT
          : wholeNumber('--max-concurrent', flags.maxConcurrent, 1, 10_000),
      bodyLimitBytes:
        flags.bodyLimit === undefined
          ? DEFAULT_BODY_LIMIT_BYTES
          : wholeNumber('--body-limit', flags.bodyLimit, 1_024, 16 * 1024 * 1024),
    },
  };
}

/** A summary for the start-up log line (never the token itself). */
export function describeSettings(settings: LoadtesterSettings): Record<string, unknown> {
  return {
    authentication: settings.token === undefined ? 'none' : 'bearer token',
    allowAnyCommand: settings.policy.allowAnyCommand,
    allowedCommands: settings.policy.allowed.map((entry) => entry.join(' ')),
    namespaceRegexp: settings.namespacePattern?.source ?? '',
    timeout: formatDuration(settings.commandTimeoutMs),
    stateFile: settings.stateFile,
    maxConcurrent: settings.maxConcurrent,
    bodyLimitBytes: settings.bodyLimitBytes,
  };
}
