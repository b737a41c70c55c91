/**
 * Runs one program without a shell and reports how it ended. Each process gets its own process
 * group so that a timeout or a shutdown also ends what it started (`sh -c` under
 * --allow-any-command forks; killing only the shell would leave a `hey` running for an hour).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { formatDuration } from '../api/duration.js';
import { signalProcessGroup } from '../shared/process.js';
import type { Clock } from './clock.js';

export interface RunOptions {
  readonly timeoutMs: number;
  /** Aborting kills the process (used on shutdown). */
  readonly signal?: AbortSignal;
}

export interface ProcessResult {
  /** Exit code, or null when a signal ended the process or it never started. */
  readonly exitCode: number | null;
  readonly signal: string | null;
  /** Standard output and standard error, interleaved as they arrived (like Go's CombinedOutput). */
  readonly output: string;
  readonly timedOut: boolean;
  readonly aborted: boolean;
  /** Why the program could not start (not found, not executable). */
  readonly startError?: string;
  readonly durationMs: number;
}

export interface ProcessRunner {
  run(argv: readonly string[], options: RunOptions): Promise<ProcessResult>;
}

export function succeeded(result: ProcessResult): boolean {
  return result.exitCode === 0 && !result.timedOut && !result.aborted && result.startError === undefined;
}

/** One line saying why a run failed, for logs and 500 bodies. */
export function describeFailure(result: ProcessResult, timeoutMs: number): string {
  if (result.startError !== undefined) return result.startError;
  if (result.timedOut) return `killed after the ${formatDuration(timeoutMs)} timeout`;
  if (result.aborted) return 'killed: the loadtester is shutting down';
  if (result.signal !== null) return `killed by ${result.signal}`;
  return `exit status ${result.exitCode}`;
}

export interface SpawnRunnerOptions {
  readonly clock: Clock;
  /** Environment of every process (default: ours without the loadtester token). */
  readonly env?: NodeJS.ProcessEnv;
  /** Output kept per run; the rest is dropped with a note (a chatty command must not fill memory). */
  readonly maxOutputBytes?: number;
  /** Time between SIGTERM and SIGKILL. */
  readonly killGraceMs?: number;
}

export const TOKEN_ENVIRONMENT_VARIABLE = 'VIREO_LOADTESTER_TOKEN';
// setTimeout fires at once for longer delays, which would turn a long timeout into none.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Our environment minus the token: commands must not be able to read the credential guarding them. */
export function commandEnvironment(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const copy = { ...env };
  delete copy[TOKEN_ENVIRONMENT_VARIABLE];
  return copy;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid !== undefined) signalProcessGroup(child.pid, signal);
}

export class SpawnProcessRunner implements ProcessRunner {
  private readonly env: NodeJS.ProcessEnv;
  private readonly maxOutputBytes: number;
  private readonly killGraceMs: number;

  constructor(private readonly options: SpawnRunnerOptions) {
    this.env = options.env ?? commandEnvironment();
    this.maxOutputBytes = options.maxOutputBytes ?? 1024 * 1024;
    this.killGraceMs = options.killGraceMs ?? 2_000;
  }

  run(argv: readonly string[], options: RunOptions): Promise<ProcessResult> {
    const { clock } = this.options;
    const started = clock.monotonic();
    const [program, ...args] = argv;
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      let dropped = 0;
      let timedOut = false;
      let aborted = false;
      let startError: string | undefined;
      let killTimer: NodeJS.Timeout | undefined;
      let child: ChildProcess;
      try {
        child = spawn(program ?? '', args, {
          shell: false,
          detached: true,
          stdio: ['ignore', 'pipe', 'pipe'],
          env: this.env,
        });
      } catch (cause) {
        resolve({
          exitCode: null,
          signal: null,
          output: '',
          timedOut: false,
          aborted: false,
          startError: `${program}: ${cause instanceof Error ? cause.message : String(cause)}`,
          durationMs: clock.monotonic() - started,
        });
        return;
      }
      const collect = (chunk: Buffer): void => {
        const room = this.maxOutputBytes - kept;
        if (room > 0) chunks.push(chunk.subarray(0, room));
        kept += Math.min(room, chunk.length);
        dropped += Math.max(0, chunk.length - Math.max(room, 0));
      };
      child.stdout?.on('data', collect);
      child.stderr?.on('data', collect);

      const terminate = (): void => {
        if (killTimer !== undefined) return;
        killGroup(child, 'SIGTERM');
        killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), this.killGraceMs);
      };
      const timeout = setTimeout(
        () => {
          timedOut = true;
          terminate();
        },
        Math.min(Math.max(options.timeoutMs, 0), MAX_TIMER_MS),
      );
      const onAbort = (): void => {
        aborted = true;
        terminate();
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      if (options.signal?.aborted === true) onAbort();

      child.on('error', (cause: NodeJS.ErrnoException) => {
        startError =
          cause.code === 'ENOENT' ? `${program}: command not found` : `${program}: ${cause.message}`;
      });
      // A grandchild outside the group could hold the pipes open forever: stop waiting for
      // them shortly after the process itself has exited.
      child.on('exit', () => {
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
        }, 500).unref();
      });
      child.on('close', (code, signal) => {
        clearTimeout(timeout);
        if (killTimer !== undefined) clearTimeout(killTimer);
        options.signal?.removeEventListener('abort', onAbort);
        let output = Buffer.concat(chunks).toString('utf8');
        if (dropped > 0) output += `\n[output truncated: ${dropped} more bytes]`;
        resolve({
          exitCode: startError === undefined ? code : null,
          signal,
          output,
          timedOut,
          aborted,
          ...(startError === undefined ? {} : { startError }),
          durationMs: clock.monotonic() - started,
        });
      });
    });
  }
}
