/**
 * Runs the demo service as a program: `node dist/platforms/local/demo-service-main.js`, configured
 * by environment variables (PORT, HOST, VERSION, MESSAGE, ERROR_RATE, LATENCY, LATENCY_JITTER,
 * SEED, READY_DELAY; see docs/local/demo-service.md). This is what the supervisor starts as the
 * demo's workload.
 *
 * Exit codes: 0 after a graceful shutdown (SIGTERM or SIGINT), 2 for bad configuration (the
 * message names the variable), 1 when the server cannot listen.
 */
import {
  DemoServiceConfigError,
  parseDemoServiceConfig,
  startDemoService,
  type DemoService,
} from './demo-service.js';

const EXIT_BAD_CONFIG = 2;
const EXIT_CANNOT_START = 1;

async function main(): Promise<void> {
  let service: DemoService;
  try {
    service = await startDemoService(parseDemoServiceConfig(process.env));
  } catch (error) {
    process.stderr.write(`demo-service: ${(error as Error).message}\n`);
    process.exitCode = error instanceof DemoServiceConfigError ? EXIT_BAD_CONFIG : EXIT_CANNOT_START;
    return;
  }
  process.stdout.write(`listening on ${service.url}\n`);

  let stopping = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      // A second signal means "now": the person at the terminal does not want to wait.
      process.stderr.write(`demo-service: ${signal} again, exiting without waiting\n`);
      process.exit(1);
    }
    stopping = true;
    process.stderr.write(`demo-service: ${signal}, finishing in-flight requests\n`);
    void service.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

await main();
