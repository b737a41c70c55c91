/**
 * `vireo local apply -f FILE`, `vireo local delete -f FILE`, `vireo local status`,
 * `vireo local down`: local mode for users' own services. `apply` starts the background daemon
 * (`vireo local serve`) when none runs for the state directory, then hands it the file; the
 * others talk to it over the Unix socket in the state directory, after checking that the socket
 * belongs to this user and nobody else may use it (docs/local/README.md#the-daemon).
 */
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseLocalManifests } from '../platforms/local/manifest.js';
import type { LocalCanaryStatus } from '../platforms/local/runtime.js';
import { formatDuration, parseGoDuration } from '../api/duration.js';
import { UnreadableInputError, UsageError, VireoError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import type { CliIo } from './main.js';
import { readManifestFile } from '../shared/text-input.js';

export interface LocalOptions {
  readonly stateDir?: string;
}

const START_TIMEOUT_MS = 60_000;
const CALL_TIMEOUT_MS = 120_000;

export function stateDirectoryOf(
  options: LocalOptions,
  environment: NodeJS.ProcessEnv = process.env,
): string {
  return resolve(options.stateDir ?? environment['VIREO_STATE_DIR'] ?? join(homedir(), '.vireo', 'local'));
}

export class LocalDaemonError extends VireoError {
  constructor(message: string) {
    super('E_LOCAL_DAEMON', message);
  }
}

interface Answer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/**
 * The daemon's socket, once it is safe to talk to: a socket owned by this user that nobody else
 * may connect to. Undefined when there is none (no daemon). Anything else is refused before a
 * byte is sent: manifests carry Secrets.
 */
async function trustedSocket(directory: string): Promise<string | undefined> {
  const { socketPathOf } = await import('../platforms/local/daemon.js');
  const path = socketPathOf(directory);
  let info;
  try {
    info = await lstat(path);
  } catch {
    return undefined;
  }
  const uid = process.getuid?.();
  if (!info.isSocket() || (uid !== undefined && info.uid !== uid) || (info.mode & 0o077) !== 0) {
    throw new LocalDaemonError(
      `${path} is not a socket that only you can use (owner uid ${info.uid}, mode ${(info.mode & 0o777).toString(8)}): ` +
        'nothing was sent to it; make sure no one else writes to the state directory, remove the file and try again',
    );
  }
  return path;
}

/** One request to the daemon; undefined when no daemon listens. */
async function call(
  directory: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<Answer | undefined> {
  const socketPath = await trustedSocket(directory);
  if (socketPath === undefined) return undefined;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolveAnswer, reject) => {
    const outgoing = httpRequest(
      {
        socketPath,
        path,
        method,
        headers: payload === undefined ? {} : { 'content-type': 'application/json' },
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
      },
      (response) => {
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => (text += chunk));
        response.on('end', () => {
          try {
            resolveAnswer({
              status: response.statusCode ?? 0,
              body: JSON.parse(text) as Record<string, unknown>,
            });
          } catch {
            reject(new LocalDaemonError(`vireo local in ${directory} answered something that is not JSON`));
          }
        });
        response.on('error', reject);
      },
    );
    outgoing.on('error', (error: NodeJS.ErrnoException) => {
      // A socket left by a daemon that was killed: nobody answers.
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') resolveAnswer(undefined);
      else reject(new LocalDaemonError(`vireo local in ${directory} does not answer: ${error.message}`));
    });
    outgoing.end(payload);
  });
}

async function startDaemon(directory: string, baseDirectory: string): Promise<void> {
  const logFile = join(directory, 'vireo.log');
  const log = openSync(logFile, 'a', 0o600);
  const script = process.argv[1] ?? join(import.meta.dirname, '..', '..', 'bin', 'vireo.js');
  const child = spawn(
    process.execPath,
    [script, 'local', 'serve', '--state-dir', directory, '--base-dir', baseDirectory],
    { detached: true, stdio: ['ignore', log, log] },
  );
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  // Another apply may have started a daemon at the same moment: whichever daemon takes the
  // state directory's lock answers; the other exits, and this waits for the winner.
  const { liveHolder } = await import('../platforms/local/daemon-lock.js');
  while (Date.now() < deadline) {
    if ((await call(directory, 'GET', '/status')) !== undefined) return;
    if (child.exitCode !== null && (await liveHolder(directory)) === undefined) break;
    await new Promise((wait) => setTimeout(wait, 100));
  }
  throw new LocalDaemonError(`vireo local did not start: see ${logFile}`);
}

/** The key a file is applied under: its absolute path, or "-" for standard input. */
const fileKey = (file: string): string => (file === '-' ? '-' : resolve(file));

/** How long `apply` waits, by default, for what it applied to run. */
export const DEFAULT_APPLY_WAIT = '2m';
const APPLY_POLL_MS = 500;

export interface LocalApplyOptions extends LocalOptions {
  readonly file: string;
  /** false: return once the daemon has the manifests (`--no-wait`). */
  readonly wait?: boolean;
  /** Go duration (`--timeout`, default 2m). */
  readonly timeout?: string;
}

export async function runLocalApply(options: LocalApplyOptions, io: CliIo): Promise<number> {
  const waitMs = parseGoDuration(options.timeout ?? DEFAULT_APPLY_WAIT);
  if (waitMs === undefined || waitMs <= 0) {
    throw new UsageError(`--timeout ${options.timeout ?? ''}: write a duration like 90s or 5m`);
  }
  const directory = stateDirectoryOf(options);
  let text: string;
  try {
    text = options.file === '-' ? await io.readStdin() : await readManifestFile(options.file);
  } catch (cause) {
    throw new UnreadableInputError(`${options.file}: cannot read: ${(cause as Error).message}`);
  }
  // Checked here first, so mistakes are reported before any process starts.
  await parseLocalManifests(options.file, text);
  if ((await call(directory, 'GET', '/status')) === undefined) {
    // The daemon takes SLACK_URL, MSTEAMS_URL… from this environment: mistakes are reported here.
    const { createGlobalNotifier, globalNotifierFlags } = await import('../notifiers/global.js');
    createGlobalNotifier(globalNotifierFlags({}, process.env));
    const { prepareStateDirectory } = await import('../platforms/local/daemon.js');
    await prepareStateDirectory(directory);
    io.stderr(`starting vireo local (state in ${directory})\n`);
    await startDaemon(directory, options.file === '-' ? process.cwd() : dirname(resolve(options.file)));
  }
  // The file's key is its absolute path: relative Workload cwds resolve against its own directory
  // (applied-manifests.ts), whichever file started the daemon.
  const answer = await call(directory, 'POST', '/apply', { file: fileKey(options.file), text });
  if (answer === undefined) throw new LocalDaemonError(`vireo local in ${directory} does not answer`);
  if (answer.status !== 200) {
    io.stderr(`vireo local apply: ${String(answer.body['error'])}\n`);
    return 1;
  }
  const applied = answer.body['applied'] as LocalCanaryStatus[];
  if (options.wait === false) {
    io.stdout(formatStatus(applied));
    return 0;
  }
  return waitForRollout(directory, applied, waitMs, io);
}

/**
 * Waits until every applied canary's processes run (the primary at first, the canary's for a new
 * revision), saying what it waits for as that changes; fails with the reason when one will not
 * start or the time is up (docs/local/manifest.md "Commands").
 */
async function waitForRollout(
  directory: string,
  applied: readonly LocalCanaryStatus[],
  waitMs: number,
  io: CliIo,
): Promise<number> {
  const names = new Set(applied.map((canary) => canary.canary));
  const said = new Map<string, string>();
  const deadline = Date.now() + waitMs;
  io.stderr(`waiting up to ${formatDuration(waitMs)} for the workloads to run (--no-wait skips this)\n`);
  for (;;) {
    const answer = await call(directory, 'GET', '/status');
    if (answer === undefined) throw new LocalDaemonError(`vireo local in ${directory} stopped answering`);
    const canaries = (answer.body['canaries'] as LocalCanaryStatus[]).filter((canary) =>
      names.has(canary.canary),
    );
    for (const canary of canaries) {
      if (said.get(canary.canary) !== canary.rollout.message) {
        said.set(canary.canary, canary.rollout.message);
        io.stderr(`${canary.canary}: ${canary.rollout.message}\n`);
      }
    }
    const failed = canaries.filter((canary) => canary.rollout.state === 'failed');
    const waiting = canaries.filter((canary) => canary.rollout.state === 'progressing');
    if (failed.length > 0 || waiting.length === 0 || Date.now() >= deadline) {
      io.stdout(formatStatus(canaries));
      for (const canary of canaries) {
        for (const warning of canary.warnings ?? []) io.stderr(`warning: ${canary.canary}: ${warning}\n`);
      }
      for (const canary of failed) {
        io.stderr(`vireo local apply: ${canary.canary} failed: ${canary.rollout.message}\n`);
      }
      if (failed.length === 0 && waiting.length > 0) {
        for (const canary of waiting) {
          io.stderr(
            `vireo local apply: ${canary.canary} not running after ${formatDuration(waitMs)}: ${canary.rollout.message} (--timeout waits longer)\n`,
          );
        }
      }
      return failed.length > 0 || waiting.length > 0 ? 1 : 0;
    }
    await new Promise((wait) => setTimeout(wait, APPLY_POLL_MS));
  }
}

export async function runLocalDelete(options: LocalOptions & { file: string }, io: CliIo): Promise<number> {
  const directory = stateDirectoryOf(options);
  const answer = await call(directory, 'POST', '/delete', { file: fileKey(options.file) });
  if (answer === undefined) {
    io.stderr(`vireo local is not running (state directory ${directory}): nothing to delete\n`);
    return 1;
  }
  if (answer.status !== 200) {
    io.stderr(`vireo local delete: ${String(answer.body['error'])}\n`);
    return 1;
  }
  io.stdout(formatStatus(answer.body['applied'] as LocalCanaryStatus[]));
  return 0;
}

export async function runLocalStatus(
  options: LocalOptions & { output?: string },
  io: CliIo,
): Promise<number> {
  const directory = stateDirectoryOf(options);
  const answer = await call(directory, 'GET', '/status');
  if (answer === undefined) {
    const { liveHolder } = await import('../platforms/local/daemon-lock.js');
    const holder = await liveHolder(directory);
    io.stderr(
      holder === undefined
        ? `vireo local is not running (state directory ${directory}); start it with vireo local apply -f FILE\n`
        : `vireo local (pid ${holder.pid}) is starting: it answers once the applied files are resumed; try again shortly\n`,
    );
    return 1;
  }
  const canaries = answer.body['canaries'] as LocalCanaryStatus[];
  const metricsUrl = answer.body['metricsUrl'];
  const files = Array.isArray(answer.body['files']) ? (answer.body['files'] as string[]) : [];
  io.stdout(
    options.output === 'json'
      ? `${JSON.stringify(canaries)}\n`
      : `${formatStatus(canaries)}${files.length === 0 ? '' : `files: ${files.join(', ')}\n`}${typeof metricsUrl === 'string' ? `metrics: ${metricsUrl}\n` : ''}`,
  );
  return 0;
}

export async function runLocalDown(options: LocalOptions, io: CliIo): Promise<number> {
  const directory = stateDirectoryOf(options);
  const { liveHolder } = await import('../platforms/local/daemon-lock.js');
  const holder = await liveHolder(directory);
  const answer = holder === undefined ? undefined : await call(directory, 'POST', '/down');
  if (holder === undefined || answer === undefined) {
    if (holder !== undefined) {
      throw new LocalDaemonError(
        `vireo local (pid ${holder.pid}) holds ${directory} but does not answer: stop it with kill ${holder.pid}, then run vireo local down again`,
      );
    }
    const { stopLeftoverProcesses } = await import('../platforms/local/leftover-processes.js');
    const leftovers = await stopLeftoverProcesses(directory);
    io.stdout(
      leftovers > 0
        ? `vireo local was not running; stopped ${leftovers} process group(s) it left behind\n`
        : `vireo local is not running (state directory ${directory})\n`,
    );
    return 0;
  }
  // Stopping waits for every process to exit; the daemon releases its lock last.
  const deadline = Date.now() + 60_000;
  const { processAlive } = await import('../platforms/local/process-group.js');
  while (Date.now() < deadline && (await processAlive(holder.pid))) {
    await new Promise((wait) => setTimeout(wait, 100));
  }
  if (await processAlive(holder.pid)) {
    throw new LocalDaemonError(
      `vireo local (pid ${holder.pid}) is still stopping after 60 s: see ${join(directory, 'vireo.log')}`,
    );
  }
  io.stdout(`vireo local stopped (state kept in ${directory})\n`);
  return 0;
}

export async function runLocalServe(options: LocalOptions & { baseDir?: string }): Promise<number> {
  const { serveLocal } = await import('../platforms/local/daemon.js');
  await serveLocal({
    stateDirectory: stateDirectoryOf(options),
    logger: createLogger({ level: 'info' }),
    ...(options.baseDir === undefined ? {} : { baseDirectory: options.baseDir }),
  });
  return 0;
}

export function formatStatus(canaries: readonly LocalCanaryStatus[]): string {
  if (canaries.length === 0) return 'no canaries\n';
  const side = (replicas: string, revision: string | undefined): string =>
    revision === undefined ? replicas : `${replicas} ${revision}`;
  const rows = [
    ['CANARY', 'PHASE', 'WEIGHT', 'FAILED', 'PRIMARY', 'CANARY', 'URL'],
    ...canaries.map((canary) => [
      canary.canary,
      canary.phase || '-',
      `${canary.canaryWeight}%`,
      String(canary.failedChecks),
      side(canary.primaryReplicas, canary.primaryRevision),
      side(canary.canaryReplicas, canary.canaryRevision),
      canary.url ?? '-',
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => (row[column] ?? '').length)));
  const table = rows
    .map((row) =>
      row
        .map((cell, column) => cell.padEnd(widths[column] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
  // Why it is where it is: the last decision (with its sample) and what keeps processes from serving.
  const notes = canaries.flatMap((canary) => [
    ...(canary.lastDecision === undefined
      ? []
      : [
          `${canary.canary}: last decision: ${canary.lastDecision.message}${
            canary.lastDecision.detail === undefined ? '' : ` (${canary.lastDecision.detail})`
          }`,
        ]),
    ...(canary.problems ?? []).map((problem) => `${canary.canary}: problem: ${problem}`),
  ]);
  return `${table}\n${notes.map((note) => `${note}\n`).join('')}`;
}
