/**
 * Vireo's container image in tests: built by tools/build-image.sh (a no-op when an image of the
 * same inputs is in the store) and run with podman the way this machine allows (vfs storage,
 * runc, host network, explicit ulimits; docs/install.md). Containers' output is kept for
 * assertions and shown when a test fails.
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const repository = join(import.meta.dirname, '..', '..');
const store = process.env['VIREO_IMAGE_STORE'] ?? join(homedir(), '.cache', 'vireo', 'containers');
const STORAGE = [
  '--root',
  join(store, 'storage'),
  '--runroot',
  join(store, 'run'),
  '--storage-driver',
  'vfs',
];
// The same limits as tools/build-image.sh: runc may only lower them here.
const RUN_FLAGS = [
  '--runtime',
  'runc',
  '--network',
  'host',
  '--ulimit',
  'nofile=16384:16384',
  '--ulimit',
  'nproc=8192:8192',
];

/** Why the image tests cannot run on this machine, or undefined when they can. */
export function imageTestsUnavailable(): string | undefined {
  if (process.getuid?.() !== 0) {
    return 'not root: buildah and podman with vfs storage and chroot isolation need root (CI runs as root)';
  }
  if (spawnSync('buildah', ['--version']).status !== 0) {
    return 'buildah is not installed (scripts/test-all.sh installs it with apt-get, as tools/build-image.sh does)';
  }
  return undefined;
}

/**
 * Builds (or finds up to date) the image and returns its reference; VIREO_TEST_IMAGE names an
 * image already in the store instead (to test a build made elsewhere).
 */
export async function buildTestImage(): Promise<string> {
  const given = process.env['VIREO_TEST_IMAGE'];
  if (given !== undefined && given !== '') return given;
  const child = spawn('bash', [join(repository, 'tools', 'build-image.sh')], {
    cwd: repository,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    // Progress of a cold build (minutes) shows while it runs.
    for (const line of chunk.toString('utf8').split('\n')) {
      if (line.startsWith('[build-image')) console.log(line);
    }
  });
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`tools/build-image.sh failed (exit ${code}):\n${stderr.slice(-6_000)}`);
  const reference = stdout.trim().split('\n').pop() ?? '';
  if (!/^localhost\/vireo-test:[0-9a-f]{16}$/.test(reference)) {
    throw new Error(`tools/build-image.sh printed no image reference: ${JSON.stringify(stdout)}`);
  }
  return reference;
}

export async function podman(...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return promisify(execFile)('podman', [...STORAGE, ...args], { maxBuffer: 16 * 1024 * 1024 });
}

/** `podman run --rm` to completion, with the run flags this machine needs. */
export async function runInImage(
  image: string,
  runOptions: readonly string[],
  args: readonly string[],
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn('podman', [...STORAGE, 'run', '--rm', ...RUN_FLAGS, ...runOptions, image, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { status, stdout, stderr };
}

export interface Container {
  readonly name: string;
  /** Parsed JSON lines of its output so far (Vireo logs JSON). */
  readonly logs: Record<string, unknown>[];
  /** Its output so far, as text. */
  output(): string;
  tail(lines?: number): string;
  /** Sends `signal` to `podman run`, which passes it to the container's PID 1; resolves with the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  readonly exited: Promise<number | null>;
}

/** Starts `podman run --rm` in the background (foreground mode, so signals are passed through). */
export function startContainer(
  image: string,
  name: string,
  runOptions: readonly string[],
  args: readonly string[],
): Container {
  const child: ChildProcess = spawn(
    'podman',
    [...STORAGE, 'run', '--rm', '--name', name, ...RUN_FLAGS, ...runOptions, image, ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
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
        // Not JSON (podman's own messages, a crash trace): kept in `raw`.
      }
    }
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    name,
    logs,
    output: () => [...raw, buffered].join('\n'),
    tail: (lines = 60) => raw.slice(-lines).join('\n'),
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Polls `url` until it answers 200, the container exits, or the deadline passes. */
export async function waitForHttp(url: string, container: Container, timeoutMs: number): Promise<void> {
  let exited = false;
  void container.exited.then(() => (exited = true));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && !exited) {
    try {
      if ((await fetch(url)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(
    `${url} did not answer 200 within ${timeoutMs / 1000}s${exited ? ' (the container exited)' : ''}:\n` +
      container.tail(),
  );
}
