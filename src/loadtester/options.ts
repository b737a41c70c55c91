/**
 * The loadtester's settings: defaults, and the reading of `vireo loadtester` flags into them.
 * Every mistake is a UsageError naming the flag.
 */
import { formatDuration, parseGoDuration } from '../api/duration.js';
import { UsageError } from '../shared/errors.js';
import { TOKEN_ENVIRONMENT_VARIABLE } from './runner.js';
import { DEFAULT_ALLOWED_COMMANDS, parseAllowEntry, type CommandPolicy } from './commands.js';
import { DEFAULT_TARGET_POLICY, parseTargetPattern, type TargetPolicy } from './targets.js';

export const DEFAULT_PORT = 8080;
/** Where it listens without --host: every address with a token, loopback only without one. */
export const DEFAULT_HOST_WITH_TOKEN = '0.0.0.0';
export const DEFAULT_HOST_WITHOUT_TOKEN = '127.0.0.1';
export const DEFAULT_COMMAND_TIMEOUT_MS = 3_600_000;
export const DEFAULT_STATE_FILE = './.vireo/loadtester-gates.json';
export const DEFAULT_MAX_CONCURRENT = 8;
export const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export interface LoadtesterSettings {
  /** Bearer token every route but GET /healthz requires; undefined = no authentication. */
  readonly token?: string | undefined;
  readonly policy: CommandPolicy;
  /** The servers tasks may reach (--allow-target). */
  readonly targets: TargetPolicy;
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
    policy: { allowAnyCommand: false, allowed: [...DEFAULT_ALLOWED_COMMANDS] },
    targets: DEFAULT_TARGET_POLICY,
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
  readonly allowTarget?: readonly string[];
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

/** 127.0.0.0/8, ::1 and localhost: only this machine can connect. */
export function isLoopbackHost(host: string): boolean {
  const bare = host
    .trim()
    .toLowerCase()
    .replace(/^\[|\]$/g, '');
  return (
    bare === 'localhost' ||
    bare === '::1' ||
    bare === '::ffff:127.0.0.1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(bare)
  );
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
  const allowed = [...new Set([...defaults, ...(flags.allowCommand ?? []).map(parseAllowEntry)])];
  const targets: TargetPolicy = { patterns: (flags.allowTarget ?? []).map(parseTargetPattern) };

  const host = flags.host ?? (token === undefined ? DEFAULT_HOST_WITHOUT_TOKEN : DEFAULT_HOST_WITH_TOKEN);
  // docs/loadtester.md, "Who can reach it": nothing unauthenticated beyond this machine.
  if (token === undefined && !isLoopbackHost(host)) {
    throw new UsageError(
      `--host ${host} without a token would let anyone who reaches that address run tasks and open gates: set --token or ${TOKEN_ENVIRONMENT_VARIABLE}, or listen on 127.0.0.1`,
    );
  }
  if (token === undefined && flags.allowAnyCommand === true) {
    throw new UsageError(
      `--allow-any-command runs any command for whoever calls the loadtester: it needs --token or ${TOKEN_ENVIRONMENT_VARIABLE}, even on loopback`,
    );
  }

  return {
    host,
    port,
    logLevel,
    settings: {
      token,
      policy: { allowAnyCommand: flags.allowAnyCommand === true, allowed },
      targets,
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
    allowedCommands: settings.policy.allowed,
    allowedTargets:
      settings.targets.patterns.length === 0
        ? 'any host but loopback, link-local and unspecified addresses'
        : settings.targets.patterns.map((pattern) => pattern.text),
    namespaceRegexp: settings.namespacePattern?.source ?? '',
    timeout: formatDuration(settings.commandTimeoutMs),
    stateFile: settings.stateFile,
    maxConcurrent: settings.maxConcurrent,
    bodyLimitBytes: settings.bodyLimitBytes,
  };
}
