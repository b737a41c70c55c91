/**
 * `vireo local apply -f FILE`, `vireo local status`, `vireo local down`: local mode for users'
 * own services. `apply` starts the background daemon (`vireo local serve`) when none runs for
 * the state directory, then hands it the manifests; `status` and `down` talk to it over its
 * token-protected loopback API.
 */
import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { request } from 'undici';
import { parseLocalManifests } from '../platforms/local/manifest.js';
import type { LocalCanaryStatus } from '../platforms/local/runtime.js';
import { formatDuration, parseGoDuration } from '../api/duration.js';
import { UnreadableInputError, UsageError, VireoError } from '../shared/errors.js';
import { createLogger } from '../shared/logger.js';
import type { CliIo } from './main.js';

export interface LocalOptions {
  readonly stateDir?: string;
}

const START_TIMEOUT_MS = 20_000;

export function stateDirectoryOf(
  options: LocalOptions,
  environment: NodeJS.ProcessEnv = process.env,
): string {
  return resolve(options.stateDir ?? environment['VIREO_STATE_DIR'] ?? join(homedir(), '.vireo', 'local'));
}

class LocalDaemonError extends VireoError {
  constructor(message: string) {
    super('E_LOCAL_DAEMON', message);
  }
}

async function call(
  directory: string,
  method: 'GET' | 'POST',
  path: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> } | undefined> {
  const { readDaemonInfo } = await import('../platforms/local/daemon.js');
  const info = await readDaemonInfo(directory);
  if (info === undefined) return undefined;
  try {
    const response = await request(`${info.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${info.token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(60_000),
    });
    return { status: response.statusCode, body: (await response.body.json()) as Record<string, unknown> };
  } catch {
    // A daemon.json left by a killed daemon: nobody answers.
    return undefined;
  }
}

async function startDaemon(directory: string, baseDirectory: string): Promise<void> {
  await mkdir(directory, { recursive: true, mode: 0o700 });
  const log = openSync(join(directory, 'vireo.log'), 'a', 0o600);
  const script = process.argv[1] ?? join(import.meta.dirname, '..', '..', 'bin', 'vireo.js');
  const child = spawn(
    process.execPath,
    [script, 'local', 'serve', '--state-dir', directory, '--base-dir', baseDirectory],
    {
      detached: true,
      stdio: ['ignore', log, log],
    },
  );
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if ((await call(directory, 'GET', '/status')) !== undefined) return;
    if (child.exitCode !== null) break;
    await new Promise((wait) => setTimeout(wait, 100));
  }
  throw new LocalDaemonError(`vireo local did not start: see ${join(directory, 'vireo.log')}`);
}

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
    text = options.file === '-' ? await io.readStdin() : await readFile(options.file, 'utf8');
  } catch (cause) {
    throw new UnreadableInputError(`${options.file}: cannot read: ${(cause as Error).message}`);
  }
  // Checked here first, so mistakes are reported before any process starts.
  await parseLocalManifests(options.file, text);
  if ((await call(directory, 'GET', '/status')) === undefined) {
    io.stderr(`starting vireo local (state in ${directory})\n`);
    await startDaemon(directory, options.file === '-' ? process.cwd() : dirname(resolve(options.file)));
  }
  // Relative Workload cwds resolve against the file's own directory, whichever file started the daemon.
  const manifestDirectory = options.file === '-' ? process.cwd() : dirname(resolve(options.file));
  const answer = await call(directory, 'POST', '/apply', {
    file: options.file,
    text,
    directory: manifestDirectory,
  });
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

export async function runLocalStatus(
  options: LocalOptions & { output?: string },
  io: CliIo,
): Promise<number> {
  const directory = stateDirectoryOf(options);
  const answer = await call(directory, 'GET', '/status');
  if (answer === undefined) {
    io.stderr(
      `vireo local is not running (state directory ${directory}); start it with vireo local apply -f FILE\n`,
    );
    return 1;
  }
  const canaries = answer.body['canaries'] as LocalCanaryStatus[];
  const metricsUrl = answer.body['metricsUrl'];
  io.stdout(
    options.output === 'json'
      ? `${JSON.stringify(canaries)}\n`
      : `${formatStatus(canaries)}${typeof metricsUrl === 'string' ? `metrics: ${metricsUrl}\n` : ''}`,
  );
  return 0;
}

export async function runLocalDown(options: LocalOptions, io: CliIo): Promise<number> {
  const directory = stateDirectoryOf(options);
  const { readDaemonInfo } = await import('../platforms/local/daemon.js');
  const info = await readDaemonInfo(directory);
  const answer = await call(directory, 'POST', '/down');
  if (info === undefined || answer === undefined) {
    const leftovers = await stopLeftoverReplicas(directory);
    io.stdout(
      leftovers > 0
        ? `vireo local was not running; stopped ${leftovers} replica process group(s) it left behind\n`
        : `vireo local is not running (state directory ${directory})\n`,
    );
    return 0;
  }
  // Stopping waits for every process to exit; the daemon removes daemon.json last.
  const deadline = Date.now() + 30_000;
  const { processAlive } = await import('../platforms/local/process-group.js');
  while (
    Date.now() < deadline &&
    ((await readDaemonInfo(directory)) !== undefined || (await processAlive(info.pid)))
  ) {
    await new Promise((wait) => setTimeout(wait, 100));
  }
  io.stdout(`vireo local stopped (state kept in ${directory})\n`);
  return 0;
}

/**
 * A daemon killed without its exit hook leaves its replicas running. Their pids are in the state
 * directory; a pid is only signalled while its process still carries a VIREO_WORKLOAD variable,
 * so a pid reused by another program since is left alone.
 */
async function stopLeftoverReplicas(directory: string): Promise<number> {
  const { REPLICAS_FILE } = await import('../platforms/local/runtime.js');
  const { stopProcessGroup } = await import('../platforms/local/process-group.js');
  let pids: unknown;
  try {
    pids = JSON.parse(await readFile(join(directory, REPLICAS_FILE), 'utf8'));
  } catch {
    return 0;
  }
  let stopped = 0;
  for (const pid of Array.isArray(pids) ? pids : []) {
    if (typeof pid !== 'number' || !Number.isInteger(pid) || pid <= 1) continue;
    const environment = await readFile(`/proc/${pid}/environ`, 'utf8').catch(() => '');
    if (!environment.split('\0').some((entry) => entry.startsWith('VIREO_WORKLOAD='))) continue;
    if ((await stopProcessGroup(pid, { graceMs: 2_000 })) !== 'gone') stopped += 1;
  }
  await rm(join(directory, REPLICAS_FILE), { force: true });
  await rm(join(directory, 'daemon.json'), { force: true });
  return stopped;
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
