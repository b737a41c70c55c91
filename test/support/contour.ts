/**
 * Contour's control plane (`contour serve`, built from its Go module by tools/build-contour.sh),
 * run out of cluster against a test API server so it judges each HTTPProxy and writes `valid` or
 * `invalid` in its status (docs/testing-cluster.md). No Envoy: only the status matters here. Every
 * listener is on 127.0.0.1.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProcessGroupRegistry, tailOfFile, type ManagedProcess } from './cluster-process.js';
import { freePort } from './prometheus.js';

const repository = join(import.meta.dirname, '..', '..');

export interface TestContour {
  readonly logPath: string;
  stop(): Promise<void>;
}

export function contourBinary(): string {
  const binary = process.env['VIREO_CONTOUR_BIN'] ?? join(repository, '.cache/contour/bin/contour');
  if (!existsSync(binary)) {
    throw new Error(`Contour is missing at ${binary}: build it with "bash tools/build-contour.sh"`);
  }
  return binary;
}

/** Starts `contour serve` and resolves once its health endpoint answers. */
export async function startContour(options: {
  readonly kubeconfigPath: string;
  readonly log?: (line: string) => void;
  readonly startTimeoutMs?: number;
}): Promise<TestContour> {
  const binary = contourBinary();
  const dir = await mkdtemp(join(tmpdir(), 'vireo-contour-'));
  const registry = new ProcessGroupRegistry(dir);
  registry.startReaper(process.pid);
  const ports = new Set<number>();
  while (ports.size < 3) ports.add(await freePort());
  const [xdsPort, httpPort, debugPort] = [...ports] as [number, number, number];
  const args = [
    'serve',
    `--kubeconfig=${options.kubeconfigPath}`,
    // One Contour, so it writes status at once rather than after winning a Lease.
    '--disable-leader-election',
    '--insecure',
    '--xds-address=127.0.0.1',
    `--xds-port=${xdsPort}`,
    '--http-address=127.0.0.1',
    `--http-port=${httpPort}`,
    '--health-address=127.0.0.1',
    `--health-port=${httpPort}`,
    '--debug-http-address=127.0.0.1',
    `--debug-http-port=${debugPort}`,
  ];
  const managed: ManagedProcess = registry.start('contour', binary, args, { PATH: process.env['PATH'] });
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (managed.exit !== undefined) {
      throw new Error(
        `contour exited while starting; last lines of ${managed.logPath}:\n${tailOfFile(managed.logPath)}`,
      );
    }
    try {
      const response = await fetch(`http://127.0.0.1:${httpPort}/healthz`, {
        signal: AbortSignal.timeout(2_000),
      });
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await managed.stop(5_000);
      throw new Error(
        `contour did not answer /healthz in time; last lines of ${managed.logPath}:\n${tailOfFile(managed.logPath)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  options.log?.(`contour serving status, health on 127.0.0.1:${httpPort}`);
  let stopped: Promise<void> | undefined;
  return {
    logPath: managed.logPath,
    stop: () => {
      stopped ??= (async () => {
        await managed.stop(5_000);
        registry.forget();
        if (process.env['VIREO_KEEP_CLUSTER_DIR'] !== '1') await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
