/**
 * `vireo dashboard` (docs/dashboard.md): serves the web dashboard for the kubeconfig's cluster or
 * for local mode's state directory, until SIGINT/SIGTERM. Also the pieces `vireo controller
 * --dashboard-port` reuses (serveDashboard).
 */
import { randomBytes } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CanaryActions, OperationsBackend } from '../cli/ops/port.js';
import type { CliIo } from '../cli/main.js';
import { UsageError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { DashboardAuth, type KubernetesReviews } from './auth.js';
import { CanaryFeed } from './events.js';
import { LoadtesterGates } from './gates.js';
import { isLoopbackHost } from './security.js';
import { startDashboardServer, type DashboardServer } from './server.js';

export const DEFAULT_DASHBOARD_ADDRESS = '127.0.0.1:9898';
const MIN_TOKEN_LENGTH = 16;

export interface DashboardFlags {
  readonly address?: string;
  readonly token?: string;
  readonly kubeconfig?: string;
  readonly context?: string;
  readonly local?: boolean;
  readonly stateDir?: string;
}

/** `HOST:PORT` (IPv6 in brackets: `[::1]:9898`). */
export function parseAddress(text: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]+)):(\d{1,5})$/.exec(text);
  const port = Number(match?.[3]);
  if (match === null || !Number.isInteger(port) || port > 65_535)
    throw new UsageError(
      `--address: "${text}" is not HOST:PORT (for example 127.0.0.1:9898, or 0.0.0.0:9898 with a token)`,
    );
  return { host: match[1] ?? match[2]!, port };
}

/** The dashboard token from --token or VIREO_DASHBOARD_TOKEN; never echoed in an error. */
export function dashboardToken(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const token = flag ?? env['VIREO_DASHBOARD_TOKEN'];
  if (token === undefined || token === '') return undefined;
  if (token.length < MIN_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token))
    throw new UsageError(
      `--token / VIREO_DASHBOARD_TOKEN: the token must be at least ${MIN_TOKEN_LENGTH} printable characters without spaces (for example: openssl rand -hex 24)`,
    );
  return token;
}

export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  readonly token: string | undefined;
  readonly backend: OperationsBackend;
  readonly reviews: KubernetesReviews | undefined;
  readonly actions: CanaryActions | undefined;
  readonly mode: 'cluster' | 'local' | 'controller';
  readonly logger: Logger;
  readonly env: NodeJS.ProcessEnv;
  readonly controllerHealth?: () => Record<string, unknown>;
}

export interface ServedDashboard {
  readonly server: DashboardServer;
  close(): Promise<void>;
}

export async function serveDashboard(options: ServeOptions): Promise<ServedDashboard> {
  const auth = new DashboardAuth({ token: options.token, kubernetes: options.reviews });
  const feed = new CanaryFeed(options.backend, options.logger);
  let server: DashboardServer;
  try {
    server = await startDashboardServer({
      host: options.host,
      port: options.port,
      backend: options.backend,
      feed,
      auth,
      actions: options.actions,
      gates: new LoadtesterGates(options.env['VIREO_LOADTESTER_TOKEN'] || undefined),
      mode: options.mode,
      ...(options.controllerHealth === undefined ? {} : { controllerHealth: options.controllerHealth }),
    });
  } catch (error) {
    await feed.stop();
    throw error;
  }
  feed.start();
  return {
    server,
    close: async () => {
      await server.close();
      await feed.stop();
    },
  };
}

export interface DashboardHost {
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  /** Resolves when the dashboard should stop (SIGINT/SIGTERM in the program). */
  readonly stopped: Promise<void>;
  /** Tests: the actions implementation; otherwise the backend's own. */
  readonly openActions?: (
    backend: OperationsBackend,
    flags: DashboardFlags,
  ) => Promise<CanaryActions | undefined>;
}

export async function runDashboard(flags: DashboardFlags, io: CliIo, host: DashboardHost): Promise<number> {
  const { host: address, port } = parseAddress(flags.address ?? DEFAULT_DASHBOARD_ADDRESS);
  let token = dashboardToken(flags.token, host.env);
  const local = flags.local === true || flags.stateDir !== undefined;
  const { openBackend } = await import('../cli/ops/commands.js');
  const backend = await openBackend(flags);
  let reviews: KubernetesReviews | undefined;
  let closeReviews = (): Promise<void> => Promise.resolve();
  try {
    if (!local) {
      const [{ loadClusterConfig }, { KubeClient }, { ClusterReviews }] = await Promise.all([
        import('../cli/ops/cluster-backend.js'),
        import('../platforms/kubernetes/client.js'),
        import('./kubernetes-reviews.js'),
      ]);
      const client = await KubeClient.fromKubeConfig(await loadClusterConfig(flags));
      reviews = new ClusterReviews(client);
      closeReviews = () => client.close();
    } else if (token === undefined && isLoopbackHost(address)) {
      // Local mode on loopback without a token: make one, readable by this user only, so the
      // page is never open to every local process or to a web page that finds the port.
      const { stateDirectoryOf } = await import('../cli/local-command.js');
      const file = join(
        stateDirectoryOf(flags.stateDir === undefined ? {} : { stateDir: flags.stateDir }),
        'dashboard-token',
      );
      token = randomBytes(24).toString('hex');
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, `${token}\n`, { mode: 0o600 });
      io.stderr(`vireo dashboard: no --token given: sign in with the token in ${file}\n`);
    }
    const actions = await (host.openActions ?? defaultActions)(backend, flags);
    const served = await serveDashboard({
      host: address,
      port,
      token,
      backend,
      reviews,
      actions,
      mode: local ? 'local' : 'cluster',
      logger: host.logger,
      env: host.env,
    });
    io.stdout(`vireo dashboard: serving ${backend.where} on ${served.server.url}\n`);
    await host.stopped;
    await served.close();
    return 0;
  } finally {
    await backend.close();
    await closeReviews();
  }
}

/** The backend's own actions (docs/adr/0032, decision 3): both backends implement them. */
function defaultActions(backend: OperationsBackend): Promise<CanaryActions | undefined> {
  const candidate = backend as Partial<CanaryActions>;
  return Promise.resolve(
    typeof candidate.act === 'function' ? (backend as OperationsBackend & CanaryActions) : undefined,
  );
}
