/**
 * `POST /`: turns a webhook payload's metadata into a task, checks it against the policy, runs it
 * (in the background or while the hook waits) and says what to answer. Nothing runs before every
 * check has passed.
 */
import { formatDuration, parseGoDuration } from '../api/duration.js';
import type { WebhookPayload } from '../engine/ports.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from './clock.js';
import { COMMAND_TASK_TYPES, planCommand, type CommandPolicy, type CommandTaskType } from './commands.js';
import { InvalidTaskError } from './errors.js';
import { parseLoadSpec, runLoad, type LoadReport, type LoadSpec } from './load.js';
import { describeFailure, succeeded, type ProcessResult, type ProcessRunner } from './runner.js';
import { dedupeKey, type TaskRegistry } from './tasks.js';

/** flagger-loadtester task types Vireo leaves out (see docs/loadtester.md). */
const UNSUPPORTED_TYPES = new Set(['concord', 'ngrinder']);
// Logged output of a failed command when logCmdOutput is off: enough to see why.
const FAILURE_OUTPUT_TAIL = 2_048;

export interface TaskAnswer {
  readonly status: number;
  readonly body: string | LoadReport;
}

export type TaskOutcome = 'started' | 'skipped' | 'succeeded' | 'failed';

export interface TaskServiceOptions {
  readonly policy: CommandPolicy;
  readonly commandTimeoutMs: number;
  readonly tasks: TaskRegistry;
  readonly runner: ProcessRunner;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Called once per task outcome, for metrics. */
  readonly onOutcome?: (type: string, outcome: TaskOutcome) => void;
}

function isTrue(value: string | undefined): boolean {
  return value?.trim().toLowerCase() === 'true';
}

function tail(text: string, length: number): string {
  return text.length <= length ? text : `…${text.slice(-length)}`;
}

/**
 * The command for logs, with Authorization header values hidden: manifests often carry
 * `hey -H "Authorization: Bearer …"`, and a log is read by more people than a Canary.
 */
export function loggableCommand(text: string): string {
  return text.replace(/(authorization:\s*)[^'"\n]*/gi, '$1[redacted]');
}

/** The URL without credentials, for logs. */
function loggableUrl(url: URL): string {
  if (url.username === '' && url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.username = '';
  copy.password = '';
  return copy.href;
}

export class TaskService {
  constructor(private readonly options: TaskServiceOptions) {}

  async handle(payload: WebhookPayload): Promise<TaskAnswer> {
    const metadata = payload.metadata ?? {};
    if (Object.keys(metadata).length === 0) throw new InvalidTaskError('metadata not found in payload');
    const type = metadata['type'] === undefined || metadata['type'] === '' ? 'cmd' : metadata['type'];
    const canary = `${payload.name}.${payload.namespace}`;
    if (UNSUPPORTED_TYPES.has(type)) {
      throw new InvalidTaskError(`type ${type} is not supported by vireo loadtester`);
    }
    if (type === 'load') return this.load(canary, metadata);
    if ((COMMAND_TASK_TYPES as readonly string[]).includes(type)) {
      return this.command(canary, type as CommandTaskType, metadata);
    }
    throw new InvalidTaskError(
      `unknown task type "${type}"; use one of ${[...COMMAND_TASK_TYPES, 'load'].join(', ')}`,
    );
  }

  private timeoutOf(metadata: Readonly<Record<string, string>>): number {
    const text = metadata['timeout'];
    if (text === undefined || text === '') return this.options.commandTimeoutMs;
    const requested = parseGoDuration(text);
    if (requested === undefined || requested <= 0) {
      throw new InvalidTaskError(`metadata.timeout must be a Go duration above 0 such as 30s, got "${text}"`);
    }
    // The server's --timeout is a cap a payload cannot raise.
    return Math.min(requested, this.options.commandTimeoutMs);
  }

  private async command(
    canary: string,
    type: CommandTaskType,
    metadata: Readonly<Record<string, string>>,
  ): Promise<TaskAnswer> {
    const text = metadata['cmd'] ?? '';
    const argv = planCommand(type, text, this.options.policy);
    const timeoutMs = this.timeoutOf(metadata);
    const logOutput = isTrue(metadata['logCmdOutput']);
    // `cmd` runs in the background as in Flagger; `wait: "true"` (a Vireo extension) makes it
    // blocking, so a shell-free acceptance test can fail the hook.
    const background = type === 'cmd' && !isTrue(metadata['wait']);
    const { tasks, logger } = this.options;
    const log = logger.child({ canary, type, cmd: loggableCommand(text) });

    if (background) {
      const admission = tasks.start(dedupeKey(canary, text), (signal) =>
        this.runCommand(argv, timeoutMs, signal, logOutput, log, type),
      );
      if (!admission.started) {
        log.info('command skipped: already running');
        this.options.onOutcome?.(type, 'skipped');
        return { status: 202, body: `command skipped for ${canary}: already running` };
      }
      admission.result.catch((cause: unknown) => log.error({ err: cause }, 'command crashed'));
      this.options.onOutcome?.(type, 'started');
      return { status: 202, body: `command started for ${canary}` };
    }

    const admission = tasks.start(undefined, (signal) =>
      this.runCommand(argv, timeoutMs, signal, logOutput, log, type),
    );
    if (!admission.started) throw new Error('a task without a dedupe key is never skipped');
    const result = await admission.result;
    if (result.aborted) return { status: 503, body: 'the loadtester is shutting down' };
    if (succeeded(result)) {
      return { status: 200, body: isTrue(metadata['returnCmdOutput']) ? result.output : '' };
    }
    const reason = `command failed: ${describeFailure(result, timeoutMs)}`;
    return { status: 500, body: result.output === '' ? reason : `${reason}\n${result.output}` };
  }

  private async runCommand(
    argv: readonly string[],
    timeoutMs: number,
    signal: AbortSignal,
    logOutput: boolean,
    log: Logger,
    type: string,
  ): Promise<ProcessResult> {
    log.info({ timeout: formatDuration(timeoutMs) }, 'command starting');
    const result = await this.options.runner.run(argv, { timeoutMs, signal });
    const fields = { durationMs: Math.round(result.durationMs), exitCode: result.exitCode };
    if (succeeded(result)) {
      log.info({ ...fields, ...(logOutput ? { output: result.output } : {}) }, 'command finished');
      this.options.onOutcome?.(type, 'succeeded');
    } else {
      const output = logOutput ? result.output : tail(result.output, FAILURE_OUTPUT_TAIL);
      log.warn({ ...fields, output }, `command failed: ${describeFailure(result, timeoutMs)}`);
      this.options.onOutcome?.(type, 'failed');
    }
    return result;
  }

  private async load(canary: string, metadata: Readonly<Record<string, string>>): Promise<TaskAnswer> {
    const spec = parseLoadSpec(metadata);
    const { tasks, logger, clock } = this.options;
    const log = logger.child({
      canary,
      type: 'load',
      url: loggableUrl(spec.url),
      method: spec.method,
      duration: formatDuration(spec.durationMs),
      qps: spec.qps,
      concurrency: spec.concurrency,
    });
    const run = async (signal: AbortSignal): Promise<LoadReport> => {
      log.info('load test starting');
      const report = await runLoad(spec, { clock, signal });
      log.info({ report }, signal.aborted ? 'load test stopped by shutdown' : 'load test finished');
      this.options.onOutcome?.('load', 'succeeded');
      return report;
    };

    if (!isTrue(metadata['wait'])) {
      const admission = tasks.start(dedupeKey(canary, `load ${canonicalSpec(spec)}`), run);
      if (!admission.started) {
        log.info('load test skipped: already running');
        this.options.onOutcome?.('load', 'skipped');
        return { status: 202, body: `load test skipped for ${canary}: already running` };
      }
      admission.result.catch((cause: unknown) => log.error({ err: cause }, 'load test crashed'));
      this.options.onOutcome?.('load', 'started');
      return { status: 202, body: `load test started for ${canary}` };
    }
    const admission = tasks.start(undefined, async (signal) => ({ report: await run(signal), signal }));
    if (!admission.started) throw new Error('a task without a dedupe key is never skipped');
    const { report, signal } = await admission.result;
    if (signal.aborted) return { status: 503, body: 'the loadtester is shutting down' };
    return { status: 200, body: report };
  }
}

/** The same load test written with other spellings (case, defaults) is the same task. */
function canonicalSpec(spec: LoadSpec): string {
  return JSON.stringify({
    url: spec.url.href,
    method: spec.method,
    durationMs: spec.durationMs,
    qps: spec.qps,
    concurrency: spec.concurrency,
    headers: Object.entries(spec.headers).sort(([a], [b]) => a.localeCompare(b)),
    body: spec.body ?? null,
  });
}
