/**
 * `vireo local serve`: the background process behind `vireo local apply|delete|status|down`. It
 * runs a LocalRuntime and a small control API on a Unix socket in the state directory
 * (`daemon.sock`, mode 0600): only the directory's owner can connect, and a client checks the
 * socket's owner and mode before it sends anything, so nothing (manifests, Secrets) ever goes to a
 * listener that is not this user's daemon. Nothing listens on a TCP port for control.
 *
 * One daemon per state directory (`daemon.lock`, daemon-lock.ts). A starting daemon first stops
 * whatever a killed predecessor left running (leftover-processes.ts), then resumes every applied
 * file (applied-manifests.ts) where the state file says each canary was. Threat model and
 * decisions: docs/local/README.md#the-daemon, docs/adr/0013-local-daemon-ownership.md.
 */
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { VireoError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { createGlobalNotifier, globalNotifierFlags } from '../../notifiers/global.js';
import type { NotifierDeps } from '../../notifiers/notifier.js';
import {
  combineSources,
  readAppliedSources,
  writeAppliedSources,
  type AppliedSources,
} from './applied-manifests.js';
import { acquireDaemonLock } from './daemon-lock.js';
import { STATE_MARK, stopLeftoverProcesses } from './leftover-processes.js';
import { LocalManifestError } from './manifest.js';
import { LocalRuntime } from './runtime.js';
import { LocalStateError } from './state.js';

export const DAEMON_FILE = 'daemon.json';
export const SOCKET_FILE = 'daemon.sock';
const MAX_MANIFEST_BYTES = 1024 * 1024;
/** sockaddr_un.sun_path holds 108 bytes on Linux (104 on macOS), including the final NUL. */
const MAX_SOCKET_PATH_BYTES = 103;

/** What `daemon.json` says: informational (the socket is found by its fixed name). */
export interface DaemonInfo {
  readonly pid: number;
  readonly socket: string;
}

export interface DaemonOptions {
  readonly stateDirectory: string;
  readonly logger: Logger;
  /** Directory relative Workload `cwd`s resolve against. */
  readonly baseDirectory?: string;
}

export function socketPathOf(stateDirectory: string): string {
  const path = join(stateDirectory, SOCKET_FILE);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH_BYTES) {
    throw new LocalStateError(
      `state directory ${stateDirectory} is too long for the daemon's socket (${Buffer.byteLength(path)} bytes, at most ${MAX_SOCKET_PATH_BYTES}): choose a shorter --state-dir or VIREO_STATE_DIR`,
    );
  }
  return path;
}

/** Creates the state directory (mode 0700), or says clearly why it cannot be used. */
export async function prepareStateDirectory(stateDirectory: string): Promise<void> {
  try {
    await mkdir(stateDirectory, { recursive: true, mode: 0o700 });
    // Probe: a directory that exists but is read-only fails here, not halfway through a start.
    const probe = join(stateDirectory, `.probe.${process.pid}`);
    await writeFile(probe, '', { mode: 0o600 });
    await rm(probe, { force: true });
  } catch (cause) {
    const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message;
    throw new LocalStateError(
      `cannot use ${stateDirectory} as the state directory (${reason}): choose a writable one with --state-dir or VIREO_STATE_DIR`,
      { cause },
    );
  }
}

/** Runs until `down` or a signal; resolves when everything is stopped. */
export async function serveLocal(options: DaemonOptions): Promise<void> {
  const { stateDirectory, logger } = options;
  await prepareStateDirectory(stateDirectory);
  const socketPath = socketPathOf(stateDirectory);
  // SLACK_URL, MSTEAMS_URL…: from the environment only (flags would show the URLs in `ps`).
  const notifierFlags = globalNotifierFlags({}, process.env);
  // Built once here so a bad setting stops the start with its message; the runtime builds its own
  // with the alert log and the retry counter.
  const globalNotifier = createGlobalNotifier(notifierFlags);
  const lock = await acquireDaemonLock(stateDirectory);
  // Every process started from here on carries the mark, so a later daemon (or `down`) finds them
  // if this one is killed before it can stop them.
  process.env[STATE_MARK] = stateDirectory;
  let runtime: LocalRuntime | undefined;
  let sources: AppliedSources = new Map();
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));
  let app: FastifyInstance | undefined;

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      await app?.close().catch(() => undefined);
      await runtime?.stop().catch((error: unknown) => logger.error({ err: error }, 'stopping failed'));
      await rm(join(stateDirectory, DAEMON_FILE), { force: true });
      await rm(socketPath, { force: true });
      await lock.release();
      finished();
    })();
    return stopping;
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());

  try {
    const stopped = await stopLeftoverProcesses(stateDirectory);
    if (stopped > 0) logger.warn({ stopped }, 'stopped processes a previous vireo local left running');

    /** Applies the next set of files; they are persisted once the runtime runs them. */
    const applySources = async (next: AppliedSources): Promise<void> => {
      const manifests = await combineSources(next);
      if (runtime === undefined) {
        runtime = await LocalRuntime.start(manifests, {
          stateDirectory,
          logger,
          ...(globalNotifier === undefined
            ? {}
            : { globalNotifier: (deps: NotifierDeps) => createGlobalNotifier(notifierFlags, deps) }),
          ...(options.baseDirectory === undefined ? {} : { baseDirectory: options.baseDirectory }),
        });
      } else {
        await runtime.apply(manifests);
      }
      sources = next;
      await writeAppliedSources(stateDirectory, next);
    };
    // Applies and deletes run one at a time, in the order they arrived.
    let queue: Promise<unknown> = Promise.resolve();
    const serialized = <T>(work: () => Promise<T>): Promise<T> => {
      const next = queue.then(work);
      queue = next.catch(() => undefined);
      return next;
    };

    // Files applied before a restart: resume them before answering.
    const previous = await readAppliedSources(stateDirectory).catch((error: unknown) => {
      logger.error({ err: error }, 'could not read the previously applied files');
      return new Map<string, string>();
    });
    if (previous.size > 0) {
      await applySources(previous).catch((error: unknown) =>
        logger.error({ err: error }, 'could not resume the previously applied manifests'),
      );
    }
    if (stopping !== undefined) return await stopping;

    app = Fastify({ logger: false, bodyLimit: MAX_MANIFEST_BYTES });
    const failure = (error: unknown): { status: number; body: object } | undefined => {
      if (error instanceof LocalManifestError)
        return { status: 422, body: { error: error.message, code: error.code } };
      if (error instanceof VireoError)
        return { status: 500, body: { error: error.message, code: error.code } };
      return undefined;
    };
    app.post<{ Body: { file?: unknown; text?: unknown } }>('/apply', async (request, reply) => {
      const { file, text } = request.body ?? {};
      if (typeof file !== 'string' || typeof text !== 'string') {
        return reply.code(400).send({ error: 'body must be {"file": string, "text": string}' });
      }
      try {
        await serialized(() => applySources(new Map([...sources, [file, text]])));
      } catch (error) {
        const answer = failure(error);
        if (answer === undefined) throw error;
        return reply.code(answer.status).send(answer.body);
      }
      return { applied: runtime?.status() ?? [], files: [...sources.keys()] };
    });
    app.post<{ Body: { file?: unknown } }>('/delete', async (request, reply) => {
      const { file } = request.body ?? {};
      if (typeof file !== 'string') return reply.code(400).send({ error: 'body must be {"file": string}' });
      if (!sources.has(file)) {
        return reply.code(404).send({
          error: `${file} is not applied; applied files: ${[...sources.keys()].join(', ') || 'none'}`,
        });
      }
      try {
        await serialized(() => applySources(new Map([...sources].filter(([name]) => name !== file))));
      } catch (error) {
        const answer = failure(error);
        if (answer === undefined) throw error;
        return reply.code(answer.status).send(answer.body);
      }
      return { applied: runtime?.status() ?? [], files: [...sources.keys()] };
    });
    app.get('/status', () => ({
      canaries: runtime?.status() ?? [],
      files: [...sources.keys()],
      stateDirectory,
      metricsUrl: runtime?.metricsUrl,
      pid: process.pid,
    }));
    app.post('/down', () => {
      setImmediate(() => void shutdown());
      return { stopping: true };
    });

    // The lock is ours: a socket file here is a dead daemon's.
    await rm(socketPath, { force: true });
    await app.ready();
    // Created 0600 (no window where another user could connect), and made so again in case
    // the file system ignores the mask.
    const mask = process.umask(0o077);
    try {
      await app.listen({ path: socketPath });
    } finally {
      process.umask(mask);
    }
    await chmod(socketPath, 0o600);
    const info: DaemonInfo = { pid: process.pid, socket: socketPath };
    await writeFile(join(stateDirectory, DAEMON_FILE), JSON.stringify(info), { mode: 0o600 });
    logger.info({ socket: socketPath, stateDirectory }, 'vireo local is serving');
  } catch (error) {
    await shutdown();
    throw error;
  }
  await done;
}
