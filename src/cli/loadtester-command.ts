/**
 * `vireo loadtester`: serves the loadtester API until SIGTERM or SIGINT, then stops cleanly (no
 * new requests, running commands killed, gate state flushed) and exits 0.
 */
import type { AddressInfo } from 'node:net';
import { VireoError } from '../shared/errors.js';
import { createLogger, type LoggerOptions } from '../shared/logger.js';
import { describeSettings, resolveFlags, type LoadtesterFlags } from '../loadtester/options.js';
import { buildLoadtester } from '../loadtester/server.js';
import type { CliIo } from './main.js';

/** What the command needs from the process; tests pass their own. */
export interface LoadtesterProcess {
  readonly env: NodeJS.ProcessEnv;
  readonly signals: Pick<NodeJS.Process, 'once' | 'off'>;
  readonly logDestination?: LoggerOptions['destination'];
}

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

function urlHost(host: string): string {
  return host.includes(':') ? `[${host}]` : host;
}

export async function runLoadtester(
  flags: LoadtesterFlags,
  _io: CliIo,
  host: LoadtesterProcess = { env: process.env, signals: process },
): Promise<number> {
  const resolved = resolveFlags(flags, host.env);
  const logger = createLogger({
    level: resolved.logLevel,
    ...(host.logDestination === undefined ? {} : { destination: host.logDestination }),
  });
  const app = await buildLoadtester({ settings: resolved.settings, logger });
  try {
    await app.listen({ host: resolved.host, port: resolved.port });
  } catch (cause) {
    await app.close();
    throw new VireoError(
      'E_LOADTESTER_LISTEN',
      `cannot listen on ${resolved.host}:${resolved.port}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  const { port } = app.server.address() as AddressInfo;
  logger.info(describeSettings(resolved.settings), 'loadtester settings');
  if (resolved.settings.token === undefined) {
    // resolveFlags allows no token only on loopback (docs/loadtester.md, "Who can reach it").
    logger.warn(
      { host: resolved.host, port },
      'no --token: listening on loopback only, where every user and program of this machine can run the allowed tasks and open gates; set --token or VIREO_LOADTESTER_TOKEN to listen elsewhere',
    );
  }
  logger.info({ host: resolved.host, port }, `listening on http://${urlHost(resolved.host)}:${port}`);

  const signal = await new Promise<string>((resolve) => {
    const handlers = STOP_SIGNALS.map((name) => {
      const handler = (): void => {
        for (const [other, otherHandler] of handlers) host.signals.off(other, otherHandler);
        resolve(name);
      };
      host.signals.once(name, handler);
      return [name, handler] as const;
    });
  });
  logger.info({ signal }, 'stopping: no new requests, running commands are killed');
  await app.close();
  logger.flush();
  return 0;
}
