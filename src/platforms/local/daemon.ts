/**
 * `vireo local serve`: the background process behind `vireo local apply|status|down`. It runs a
 * LocalRuntime and a small control API on loopback, protected by a bearer token that only the
 * state directory's owner can read (`daemon.json`, mode 0600): no unauthenticated control.
 *
 * The applied manifests are kept in the state directory, so a restarted daemon resumes every
 * canary where its state file says it was.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { VireoError } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';
import { LocalManifestError, parseLocalManifests } from './manifest.js';
import { LocalRuntime } from './runtime.js';

export const DAEMON_FILE = 'daemon.json';
export const MANIFESTS_FILE = 'manifests.yaml';
/** The applied file's directory, for relative Workload cwds when the manifests are resumed. */
export const MANIFESTS_DIRECTORY_FILE = 'manifests.directory';
const MAX_MANIFEST_BYTES = 1024 * 1024;

export interface DaemonInfo {
  readonly pid: number;
  readonly url: string;
  readonly token: string;
}

export interface DaemonOptions {
  readonly stateDirectory: string;
  readonly logger: Logger;
  /** Directory relative Workload `cwd`s resolve against. */
  readonly baseDirectory?: string;
}

export async function readDaemonInfo(stateDirectory: string): Promise<DaemonInfo | undefined> {
  try {
    return JSON.parse(await readFile(join(stateDirectory, DAEMON_FILE), 'utf8')) as DaemonInfo;
  } catch {
    return undefined;
  }
}

function sameToken(given: string | undefined, expected: string): boolean {
  if (given === undefined) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** Runs until `down` or a signal; resolves when everything is stopped. */
export async function serveLocal(options: DaemonOptions): Promise<void> {
  const { stateDirectory, logger } = options;
  await mkdir(stateDirectory, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString('hex');
  let runtime: LocalRuntime | undefined;
  let finished: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (finished = resolve));

  const apply = async (file: string, text: string, directory?: string): Promise<void> => {
    const parsed = await parseLocalManifests(file, text);
    const manifests = directory === undefined ? parsed : { ...parsed, directory };
    if (runtime === undefined) {
      runtime = await LocalRuntime.start(manifests, {
        stateDirectory,
        logger,
        ...(options.baseDirectory === undefined ? {} : { baseDirectory: options.baseDirectory }),
      });
    } else {
      await runtime.apply(manifests);
    }
    await writeFile(join(stateDirectory, MANIFESTS_FILE), text, { mode: 0o600 });
    if (directory !== undefined) {
      await writeFile(join(stateDirectory, MANIFESTS_DIRECTORY_FILE), directory, { mode: 0o600 });
    }
  };

  const app: FastifyInstance = Fastify({ logger: false, bodyLimit: MAX_MANIFEST_BYTES });
  app.addHook('onRequest', async (request, reply) => {
    const header = request.headers.authorization;
    if (!sameToken(header?.replace(/^Bearer /, ''), token)) {
      await reply
        .code(401)
        .send({ error: 'missing or wrong token: use vireo local, which reads it from the state directory' });
    }
  });
  app.post<{ Body: { file?: unknown; text?: unknown; directory?: unknown } }>(
    '/apply',
    async (request, reply) => {
      const { file, text, directory } = request.body ?? {};
      if (
        typeof file !== 'string' ||
        typeof text !== 'string' ||
        (directory !== undefined && (typeof directory !== 'string' || !isAbsolute(directory)))
      ) {
        return reply
          .code(400)
          .send({ error: 'body must be {"file": string, "text": string, "directory"?: absolute path}' });
      }
      try {
        await apply(file, text, directory);
      } catch (error) {
        if (error instanceof LocalManifestError)
          return reply.code(422).send({ error: error.message, code: error.code });
        if (error instanceof VireoError)
          return reply.code(500).send({ error: error.message, code: error.code });
        throw error;
      }
      return { applied: runtime?.status() ?? [] };
    },
  );
  app.get('/status', () => ({
    canaries: runtime?.status() ?? [],
    stateDirectory,
    metricsUrl: runtime?.metricsUrl,
  }));
  app.post('/down', () => {
    setImmediate(() => void shutdown());
    return { stopping: true };
  });

  let stopping: Promise<void> | undefined;
  const shutdown = (): Promise<void> => {
    stopping ??= (async () => {
      await app.close().catch(() => undefined);
      await runtime?.stop();
      await rm(join(stateDirectory, DAEMON_FILE), { force: true });
      finished();
    })();
    return stopping;
  };
  process.once('SIGTERM', () => void shutdown());
  process.once('SIGINT', () => void shutdown());

  // Manifests applied before a restart: resume them before answering.
  const previous = await readFile(join(stateDirectory, MANIFESTS_FILE), 'utf8').catch(() => undefined);
  if (previous !== undefined) {
    const directory = await readFile(join(stateDirectory, MANIFESTS_DIRECTORY_FILE), 'utf8').catch(
      () => undefined,
    );
    await apply(join(stateDirectory, MANIFESTS_FILE), previous, directory).catch((error: unknown) =>
      logger.error({ err: error }, 'could not resume the previously applied manifests'),
    );
  }
  const address = await app.listen({ host: '127.0.0.1', port: 0 });
  const info: DaemonInfo = { pid: process.pid, url: address, token };
  await writeFile(join(stateDirectory, DAEMON_FILE), JSON.stringify(info), { mode: 0o600 });
  logger.info({ url: address, stateDirectory }, 'vireo local is serving');
  await done;
}
