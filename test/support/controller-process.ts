/**
 * `vireo controller` as a real process (the built binary), the way a cluster runs it: its JSON
 * logs are kept for assertions and shown when a test fails; it can be stopped with SIGTERM or
 * killed with SIGKILL in the middle of an analysis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './prometheus.js';

const repository = join(import.meta.dirname, '..', '..');

export interface ControllerProcess {
  readonly port: number;
  /** Parsed JSON log lines so far. */
  readonly logs: Record<string, unknown>[];
  /** The last lines of its logs, for failure messages. */
  tail(lines?: number): string;
  /** SIGTERM (clean stop) or SIGKILL (a crash); resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

export async function startControllerProcess(
  kubeconfigPath: string,
  extraArgs: readonly string[] = [],
  env: NodeJS.ProcessEnv = {},
  logLevel = 'debug',
): Promise<ControllerProcess> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [
      join(repository, 'bin', 'vireo.js'),
      'controller',
      '--kubeconfig',
      kubeconfigPath,
      '--port',
      String(port),
      '--host',
      '127.0.0.1',
      '--log-level',
      logLevel,
      '--min-analysis-interval',
      '1s',
      ...extraArgs,
    ],
    { cwd: repository, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const logs: Record<string, unknown>[] = [];
  const raw: string[] = [];
  let buffered = '';
  const collect = (chunk: Buffer): void => {
    buffered += chunk.toString('utf8');
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      raw.push(line);
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // Not JSON (a crash trace): kept in `raw` for tail().
      }
    }
  };
  child.stderr?.on('data', collect);
  child.stdout?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const tail = (lines = 60): string => raw.slice(-lines).join('\n');

  // Started means /healthz answers 200: the caches are filled and the workers run (or, with
  // leader election, the process is campaigning).
  const deadline = Date.now() + 60_000;
  let started = false;
  while (Date.now() < deadline && !started && child.exitCode === null) {
    try {
      started = (await fetch(`http://127.0.0.1:${port}/healthz`)).status === 200;
    } catch {
      // Not listening yet.
    }
    if (!started) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!started) {
    child.kill('SIGKILL');
    throw new Error(`vireo controller did not start:\n${tail()}`);
  }
  return {
    port,
    logs,
    tail,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}
