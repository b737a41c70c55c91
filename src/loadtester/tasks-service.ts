/**
 * `POST /`: turns a webhook payload's metadata into a task, checks it against the policy, runs it
 * (in the background or while the hook waits) and says what to answer. Nothing runs before every
 * check has passed.
 */
import { formatDuration, parseGoDuration } from '../api/duration.js';
import type { WebhookPayload } from '../engine/ports.js';
import type { Logger } from '../shared/logger.js';
import type { Clock } from './clock.js';
import {
  COMMAND_TASK_TYPES,
  planCommand,
  type CommandPlan,
  type CommandPolicy,
  type CommandTaskType,
} from './commands.js';
import { InvalidTaskError } from './errors.js';
import {
  checkHttpUrl,
  HTTP_CHECK_METHODS,
  parseHeaderObject,
  runHttpCheck,
  type HttpCheckSpec,
} from './http-check.js';
import { parseLoadSpec, runLoad, type LoadReport, type LoadSpec } from './load.js';
import { redactUrl } from './redact.js';
import { describeFailure, succeeded, type ProcessRunner } from './runner.js';
import { checkNameBeforeStart, checkTarget, type TargetPolicy } from './targets.js';
import { dedupeKey, type TaskRegistry } from './tasks.js';

/** flagger-loadtester task types Vireo leaves out (see docs/loadtester.md). */
const UNSUPPORTED_TYPES = new Set(['concord', 'ngrinder']);
// Logged output of a failed command when logCmdOutput is off: enough to see why.
const FAILURE_OUTPUT_TAIL = 2_048;
// An acceptance test is one request: a minute is plenty, and metadata.timeout may shorten it.
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;

export interface TaskAnswer {
  readonly status: number;
  readonly body: string | LoadReport;
}

export type TaskOutcome = 'started' | 'skipped' | 'succeeded' | 'failed';

export interface TaskServiceOptions {
  readonly policy: CommandPolicy;
  /** The servers tasks may reach. */
  readonly targets: TargetPolicy;
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

/** The URL without credentials, for logs. */
function loggableUrl(url: URL): string {
  return redactUrl(url.href);
}

/** How a command or an acceptance test ended, whichever ran it. */
interface RunOutcome {
  readonly succeeded: boolean;
  readonly aborted: boolean;
  readonly output: string;
  /** Why it failed, in one line. */
  readonly reason?: string;
  readonly exitCode?: number | null;
  readonly durationMs: number;
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
    if (type === 'request') return this.request(canary, metadata);
    if ((COMMAND_TASK_TYPES as readonly string[]).includes(type)) {
      return this.command(canary, type as CommandTaskType, metadata);
    }
    throw new InvalidTaskError(
      `unknown task type "${type.length > 40 ? `${type.slice(0, 40)}…` : type}"; use one of ${[...COMMAND_TASK_TYPES, 'load', 'request'].join(', ')}`,
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
    const plan = planCommand(type, text, this.options.policy);
    const timeoutMs = this.timeoutOf(metadata);
    await this.checkTargets(plan);
    const logOutput = isTrue(metadata['logCmdOutput']);
    // `cmd` runs in the background as in Flagger; `wait: "true"` (a Vireo extension) makes it
    // blocking, so a shell-free acceptance test can fail the hook.
    const background = type === 'cmd' && !isTrue(metadata['wait']);
    const { tasks, logger } = this.options;
    const log = logger.child({ canary, type, cmd: plan.display });
    const work = (signal: AbortSignal): Promise<RunOutcome> =>
      this.runPlan(plan, timeoutMs, signal, logOutput, log, type);

    if (background) {
      const admission = tasks.start(dedupeKey(canary, text), work);
      if (!admission.started) {
        log.info('command skipped: already running');
        this.options.onOutcome?.(type, 'skipped');
        return { status: 202, body: `command skipped for ${canary}: already running` };
      }
      admission.result.catch((cause: unknown) => log.error({ err: cause }, 'command crashed'));
      this.options.onOutcome?.(type, 'started');
      return { status: 202, body: `command started for ${canary}` };
    }
    return this.blocking(work, metadata);
  }

  /** Runs a blocking task and turns its outcome into the hook's answer. */
  private async blocking(
    work: (signal: AbortSignal) => Promise<RunOutcome>,
    metadata: Readonly<Record<string, string>>,
  ): Promise<TaskAnswer> {
    const admission = this.options.tasks.start(undefined, work);
    if (!admission.started) throw new Error('a task without a dedupe key is never skipped');
    const outcome = await admission.result;
    if (outcome.aborted) return { status: 503, body: 'the loadtester is shutting down' };
    if (outcome.succeeded) {
      return { status: 200, body: isTrue(metadata['returnCmdOutput']) ? outcome.output : '' };
    }
    const reason = `command failed: ${outcome.reason ?? 'unknown error'}`;
    return { status: 500, body: outcome.output === '' ? reason : `${reason}\n${outcome.output}` };
  }

  /** Every server the plan names must be an allowed target, before anything starts. */
  private async checkTargets(plan: CommandPlan): Promise<void> {
    const { targets } = this.options;
    if (plan.kind === 'http') {
      checkHttpUrl(plan.spec.url, targets, 'curl URL');
      return;
    }
    for (const target of plan.targets) checkTarget(targets, target.host, target.port, target.what);
    for (const target of plan.targets) await checkNameBeforeStart(targets, target.host, target.port);
  }

  private async runPlan(
    plan: CommandPlan,
    timeoutMs: number,
    signal: AbortSignal,
    logOutput: boolean,
    log: Logger,
    type: string,
  ): Promise<RunOutcome> {
    log.info({ timeout: formatDuration(timeoutMs) }, 'command starting');
    let outcome: RunOutcome;
    if (plan.kind === 'http') {
      const spec: HttpCheckSpec = { ...plan.spec, timeoutMs: Math.min(plan.spec.timeoutMs, timeoutMs) };
      const started = this.options.clock.monotonic();
      const result = await runHttpCheck(spec, { targets: this.options.targets, signal });
      outcome = {
        succeeded: result.passed,
        aborted: result.aborted,
        output: plan.render(result),
        ...(result.reason === undefined ? {} : { reason: result.reason }),
        durationMs: this.options.clock.monotonic() - started,
      };
    } else {
      const result = await this.options.runner.run(plan.argv, { timeoutMs, signal });
      outcome = {
        succeeded: succeeded(result),
        aborted: result.aborted,
        output: result.output,
        ...(succeeded(result) ? {} : { reason: describeFailure(result, timeoutMs) }),
        exitCode: result.exitCode,
        durationMs: result.durationMs,
      };
    }
    const fields = {
      durationMs: Math.round(outcome.durationMs),
      ...(outcome.exitCode === undefined ? {} : { exitCode: outcome.exitCode }),
    };
    if (outcome.succeeded) {
      log.info({ ...fields, ...(logOutput ? { output: outcome.output } : {}) }, 'command finished');
      this.options.onOutcome?.(type, 'succeeded');
    } else {
      const output = logOutput ? outcome.output : tail(outcome.output, FAILURE_OUTPUT_TAIL);
      log.warn({ ...fields, output }, `command failed: ${outcome.reason ?? 'unknown error'}`);
      this.options.onOutcome?.(type, 'failed');
    }
    return outcome;
  }

  /** `type: request`: an acceptance test written as data, run by our HTTP client (blocking). */
  private async request(canary: string, metadata: Readonly<Record<string, string>>): Promise<TaskAnswer> {
    const spec = parseRequestSpec(metadata, this.timeoutOf(metadata));
    checkHttpUrl(spec.url, this.options.targets, 'metadata.url');
    const log = this.options.logger.child({
      canary,
      type: 'request',
      url: loggableUrl(spec.url),
      method: spec.method,
    });
    const plan: CommandPlan = {
      kind: 'http',
      spec,
      render: (result) => result.body,
      display: `${spec.method} ${loggableUrl(spec.url)}`,
    };
    return this.blocking(
      (signal) =>
        this.runPlan(plan, spec.timeoutMs, signal, isTrue(metadata['logCmdOutput']), log, 'request'),
      metadata,
    );
  }

  private async load(canary: string, metadata: Readonly<Record<string, string>>): Promise<TaskAnswer> {
    const spec = parseLoadSpec(metadata);
    checkHttpUrl(spec.url, this.options.targets, 'metadata.url');
    const { tasks, logger, clock, targets } = this.options;
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
      const report = await runLoad(spec, { clock, signal, targets });
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

/** "200", "200,201", "2xx": which statuses pass an acceptance test. */
function parseExpectStatus(text: string | undefined): { test: (status: number) => boolean; text: string } {
  const value = text === undefined || text.trim() === '' ? '2xx' : text.trim().toLowerCase();
  const parts = value.split(',').map((part) => part.trim());
  if (!parts.every((part) => /^[1-5](\d\d|xx)$/.test(part))) {
    throw new InvalidTaskError(
      `metadata.expectStatus must be statuses or classes separated by commas, such as 200 or 200,201 or 2xx, got "${text}"`,
    );
  }
  return {
    test: (status) =>
      parts.some((part) =>
        part.endsWith('xx') ? Math.floor(status / 100) === Number(part[0]) : status === Number(part),
      ),
    text: parts.join(' or '),
  };
}

/** Reads a `type: request` task's metadata; throws InvalidTaskError naming the field. */
export function parseRequestSpec(
  metadata: Readonly<Record<string, string>>,
  timeoutMs: number,
): HttpCheckSpec {
  const urlText = metadata['url'];
  if (urlText === undefined || urlText.trim() === '') {
    throw new InvalidTaskError('metadata.url is required for type request');
  }
  let url: URL;
  try {
    url = new URL(urlText);
  } catch {
    throw new InvalidTaskError('metadata.url is not a URL');
  }
  if (url.username !== '' || url.password !== '') {
    throw new InvalidTaskError(
      'metadata.url: credentials in a URL are not accepted; send them in metadata.headers',
    );
  }
  const method = (metadata['method'] ?? 'GET').toUpperCase();
  if (!(HTTP_CHECK_METHODS as readonly string[]).includes(method)) {
    throw new InvalidTaskError(`metadata.method must be one of ${HTTP_CHECK_METHODS.join(', ')}`);
  }
  const body = metadata['body'];
  if (body !== undefined && body !== '' && (method === 'GET' || method === 'HEAD')) {
    throw new InvalidTaskError(`metadata.body cannot be sent with ${method}; set metadata.method`);
  }
  const headers = parseHeaderObject(metadata['headers'], 'metadata.headers');
  const expect = parseExpectStatus(metadata['expectStatus']);
  const expectBody = metadata['expectBody'];
  return {
    url,
    method,
    headers,
    ...(body === undefined || body === '' ? {} : { body }),
    insecure: isTrue(metadata['insecure']),
    expectStatus: expect.test,
    expectStatusText: expect.text,
    ...(expectBody === undefined || expectBody === '' ? {} : { expectBody }),
    timeoutMs: Math.min(timeoutMs, DEFAULT_REQUEST_TIMEOUT_MS),
  };
}
