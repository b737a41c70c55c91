/**
 * `vireo demo-service`: the demo web service (docs/local/demo-service.md) as a command, so the
 * container image runs it like every other command. Configured by the same environment variables
 * as `node dist/platforms/local/demo-service-main.js`; runs until SIGTERM or SIGINT.
 *
 * Exit codes: 0 after a graceful shutdown, 2 for bad configuration (the message names the
 * variable), 1 when the server cannot listen.
 */
import {
  DemoServiceConfigError,
  parseDemoServiceConfig,
  startDemoService,
  type DemoService,
} from '../platforms/local/demo-service.js';
import type { CliIo } from './main.js';

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;

export interface DemoServiceProcess {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly signals: Pick<NodeJS.Process, 'once' | 'off'>;
}

export async function runDemoServiceCommand(
  io: CliIo,
  host: DemoServiceProcess = { env: process.env, signals: process },
): Promise<number> {
  let service: DemoService;
  try {
    service = await startDemoService(parseDemoServiceConfig(host.env));
  } catch (error) {
    io.stderr(`demo-service: ${(error as Error).message}\n`);
    return error instanceof DemoServiceConfigError ? 2 : 1;
  }
  io.stdout(`listening on ${service.url}\n`);
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
  io.stderr(`demo-service: ${signal}, finishing in-flight requests\n`);
  await service.close();
  return 0;
}
