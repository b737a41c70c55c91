/**
 * `vireo controller`: the Kubernetes operator, with Flagger's flags. Runs until SIGTERM or SIGINT
 * (exit 0, the Lease released), or until leadership is lost (exit 1, as Flagger: the Deployment
 * restarts it and it campaigns again).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { Registry } from 'prom-client';
import { parseGoDuration } from '../api/duration.js';
import { DEFAULT_MESH_PROVIDER, implementedRouter } from '../routers/traits.js';
import { UsageError, VireoError } from '../shared/errors.js';
import { createLogger, type LoggerOptions } from '../shared/logger.js';
import type { CliIo } from './main.js';

export interface ControllerFlags {
  kubeconfig?: string;
  context?: string;
  meshProvider?: string;
  metricsServer?: string;
  namespace?: string;
  selectorLabels?: string;
  includeLabelPrefix?: string;
  enableConfigTracking?: boolean;
  ingressAnnotationsPrefix?: string;
  ingressClass?: string;
  slackUrl?: string;
  slackUser?: string;
  slackChannel?: string;
  slackProxyUrl?: string;
  msteamsUrl?: string;
  msteamsProxyUrl?: string;
  eventWebhook?: string;
  clusterName?: string;
  enableLeaderElection?: boolean;
  leaderElectionNamespace?: string;
  leaderElectionLeaseDuration?: string;
  leaderElectionRenewDeadline?: string;
  leaderElectionRetryPeriod?: string;
  port?: string;
  dashboardPort?: string;
  host?: string;
  logLevel?: string;
  threadiness?: string;
  minAnalysisInterval?: string;
}

export interface ControllerProcess {
  readonly env: NodeJS.ProcessEnv;
  readonly signals: Pick<NodeJS.Process, 'once' | 'off'>;
  readonly logDestination?: LoggerOptions['destination'];
  /** Resolves the run early (tests): as if SIGTERM arrived. */
  readonly stop?: Promise<void>;
  /** Receives the port actually bound (tests pass --port 0). */
  readonly onListening?: (port: number) => void;
}

const STOP_SIGNALS = ['SIGTERM', 'SIGINT'] as const;
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

const list = (value: string | undefined): string[] =>
  (value ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter((item) => item !== '');

function parsePort(value: string | undefined): number {
  if (value === undefined) return 8080;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535)
    throw new UsageError(`--port: "${value}" is not a port number (0–65535; 0 picks a free port)`);
  return port;
}

function parseThreadiness(value: string | undefined): number {
  if (value === undefined) return 2;
  const threads = Number(value);
  if (!Number.isInteger(threads) || threads < 1 || threads > 64)
    throw new UsageError(`--threadiness: "${value}" must be a whole number from 1 to 64`);
  return threads;
}

/** In a Pod, its own namespace: where the install's Role lets the controller keep its Lease. */
function podNamespace(): string | undefined {
  try {
    return (
      readFileSync('/var/run/secrets/kubernetes.io/serviceaccount/namespace', 'utf8').trim() || undefined
    );
  } catch {
    return undefined;
  }
}

function parseMinInterval(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const parsed = parseGoDuration(value);
  if (parsed === undefined || parsed < 100)
    throw new UsageError(`--min-analysis-interval: "${value}" is not a duration of at least 100ms (e.g. 1s)`);
  return parsed;
}

export interface LeaderElectionTimings {
  readonly leaseDurationMs: number;
  readonly renewDeadlineMs: number;
  readonly retryPeriodMs: number;
}

/**
 * --leader-election-lease-duration / -renew-deadline / -retry-period (client-go's meaning and
 * defaults: 60s, 15s, 5s as Flagger). A standby takes over at most a lease duration (plus a retry
 * period) after the leader's last renewal, so shorter leases mean faster failover and more Lease
 * writes. The leader gives up after the renew deadline without a renewal, which must come well
 * before a rival may take over.
 */
export function parseLeaderElectionTimings(flags: ControllerFlags): LeaderElectionTimings {
  const duration = (flag: string, value: string | undefined, fallback: number, minimumMs: number): number => {
    if (value === undefined) return fallback;
    const parsed = parseGoDuration(value);
    if (parsed === undefined || parsed < minimumMs)
      throw new UsageError(
        `${flag}: "${value}" is not a duration of at least ${minimumMs >= 1000 ? `${minimumMs / 1000}s` : `${minimumMs}ms`} (e.g. 15s)`,
      );
    return parsed;
  };
  const timings = {
    leaseDurationMs: duration(
      '--leader-election-lease-duration',
      flags.leaderElectionLeaseDuration,
      60_000,
      1000,
    ),
    renewDeadlineMs: duration(
      '--leader-election-renew-deadline',
      flags.leaderElectionRenewDeadline,
      15_000,
      100,
    ),
    retryPeriodMs: duration('--leader-election-retry-period', flags.leaderElectionRetryPeriod, 5_000, 100),
  };
  if (timings.renewDeadlineMs >= timings.leaseDurationMs)
    throw new UsageError(
      `--leader-election-renew-deadline (${timings.renewDeadlineMs} ms) must be shorter than --leader-election-lease-duration (${timings.leaseDurationMs} ms): the leader must give up before a standby may take over`,
    );
  if (timings.renewDeadlineMs <= 1.2 * timings.retryPeriodMs)
    throw new UsageError(
      `--leader-election-renew-deadline (${timings.renewDeadlineMs} ms) must be more than 1.2 × --leader-election-retry-period (${timings.retryPeriodMs} ms), or the leader gets too few renewal attempts`,
    );
  return timings;
}

async function loadKubeConfig(flags: ControllerFlags): Promise<KubeConfig> {
  const { kubeConfigClass } = await import('../platforms/kubernetes/kube-config.js');
  const KubeConfig = await kubeConfigClass();
  const kubeConfig = new KubeConfig();
  try {
    if (flags.kubeconfig !== undefined) kubeConfig.loadFromFile(flags.kubeconfig);
    else kubeConfig.loadFromDefault();
  } catch (cause) {
    throw new UsageError(
      `--kubeconfig: cannot read ${flags.kubeconfig ?? '$KUBECONFIG or ~/.kube/config'}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  if (flags.context !== undefined) kubeConfig.setCurrentContext(flags.context);
  if (kubeConfig.getCurrentCluster() === null)
    throw new UsageError(
      '--kubeconfig: no cluster to talk to: pass --kubeconfig, set $KUBECONFIG, or run in a Pod with a ServiceAccount',
    );
  return kubeConfig;
}

function waitForStop(host: ControllerProcess, lost: Promise<string>): Promise<string> {
  return new Promise<string>((resolve) => {
    const handlers = STOP_SIGNALS.map((name) => {
      const handler = (): void => done(name);
      host.signals.once(name, handler);
      return [name, handler] as const;
    });
    function done(reason: string): void {
      for (const [other, otherHandler] of handlers) host.signals.off(other, otherHandler);
      resolve(reason);
    }
    void host.stop?.then(() => done('stop'));
    void lost.then((reason) => done(reason));
  });
}

export async function runController(
  flags: ControllerFlags,
  _io: CliIo,
  host: ControllerProcess = { env: process.env, signals: process },
): Promise<number> {
  const logLevel = flags.logLevel ?? 'info';
  if (!LOG_LEVELS.includes(logLevel))
    throw new UsageError(`--log-level: "${logLevel}" is not one of ${LOG_LEVELS.join(', ')}`);
  const port = parsePort(flags.port);
  const threadiness = parseThreadiness(flags.threadiness);
  const minIntervalMs = parseMinInterval(flags.minAnalysisInterval);
  const leaderTimings = parseLeaderElectionTimings(flags);
  const meshProvider = flags.meshProvider ?? DEFAULT_MESH_PROVIDER;
  // Refused before connecting: an unknown name, or a router not built yet, is a flag mistake.
  implementedRouter(meshProvider, 'kubernetes', { flag: '--mesh-provider', command: 'vireo controller' });
  const logger = createLogger({
    level: logLevel,
    ...(host.logDestination === undefined ? {} : { destination: host.logDestination }),
  });
  const kubeConfig = await loadKubeConfig(flags);

  const [
    { KubeClient },
    { KubernetesController },
    { startControllerHttpServer },
    { LeaderElector },
    { DEFAULT_PLATFORM_OPTIONS },
    { globalNotifierFlags },
  ] = await Promise.all([
    import('../platforms/kubernetes/client.js'),
    import('../platforms/kubernetes/controller.js'),
    import('../platforms/kubernetes/http-server.js'),
    import('../platforms/kubernetes/leader-election.js'),
    import('../platforms/kubernetes/options.js'),
    import('../notifiers/global.js'),
  ]);
  const client = await KubeClient.fromKubeConfig(kubeConfig);
  const registry = new Registry();
  const selectorLabels = list(flags.selectorLabels);
  const controller = new KubernetesController(
    {
      platform: {
        selectorLabels: selectorLabels.length > 0 ? selectorLabels : DEFAULT_PLATFORM_OPTIONS.selectorLabels,
        includeLabelPrefix: list(flags.includeLabelPrefix),
        enableConfigTracking: flags.enableConfigTracking ?? true,
        ingressAnnotationsPrefix:
          flags.ingressAnnotationsPrefix ?? DEFAULT_PLATFORM_OPTIONS.ingressAnnotationsPrefix,
        ...(flags.ingressClass === undefined || flags.ingressClass === ''
          ? {}
          : { ingressClass: flags.ingressClass }),
      },
      ...(flags.namespace === undefined ? {} : { namespace: flags.namespace }),
      meshProvider,
      ...(flags.metricsServer === undefined ? {} : { metricsServer: flags.metricsServer }),
      ...(flags.eventWebhook === undefined ? {} : { eventWebhook: flags.eventWebhook }),
      ...(flags.clusterName === undefined ? {} : { clusterName: flags.clusterName }),
      notifierFlags: globalNotifierFlags(
        {
          slackUrl: flags.slackUrl,
          slackUser: flags.slackUser,
          slackChannel: flags.slackChannel,
          slackProxyUrl: flags.slackProxyUrl,
          msteamsUrl: flags.msteamsUrl,
          msteamsProxyUrl: flags.msteamsProxyUrl,
        },
        host.env,
      ),
      threadiness,
      ...(minIntervalMs === undefined ? {} : { minIntervalMs }),
    },
    { client, logger, registry },
  );

  let leading = !flags.enableLeaderElection;
  const server = await startControllerHttpServer({
    host: flags.host ?? '0.0.0.0',
    port,
    registry,
    health: {
      // A standby replica is healthy: it is waiting for the Lease, as it should.
      healthy: () => controller.started || !leading,
      describe: () => ({ leader: leading, canaries: controller.scheduledCanaries, pid: process.pid }),
    },
  });
  logger.info(
    { port: server.port, meshProvider, namespace: flags.namespace ?? '(all)' },
    `listening on :${server.port} for /metrics and /healthz`,
  );
  host.onListening?.(server.port);
  // The web dashboard from the informers' caches (docs/dashboard.md), when asked for.
  const dashboard =
    flags.dashboardPort === undefined
      ? undefined
      : await import('../dashboard/controller-dashboard.js').then(
          ({ startControllerDashboard, parseDashboardPort }) =>
            startControllerDashboard({
              port: parseDashboardPort(flags.dashboardPort!),
              host: flags.host ?? '0.0.0.0',
              caches: controller.dashboardCaches(),
              client,
              kubeConfig,
              env: host.env,
              logger,
              leader: () => leading,
            }),
        );
  if (dashboard !== undefined) logger.info({ url: dashboard.server.url }, 'serving the dashboard');

  let lostLeadership: (reason: string) => void = () => undefined;
  const lost = new Promise<string>((resolve) => {
    lostLeadership = resolve;
  });
  let elector: InstanceType<typeof LeaderElector> | undefined;
  let exitCode = 0;
  try {
    if (flags.enableLeaderElection) {
      elector = new LeaderElector({
        client,
        namespace: flags.leaderElectionNamespace ?? flags.namespace ?? podNamespace() ?? 'kube-system',
        ...leaderTimings,
        logger,
      });
      void elector.run({
        onStartedLeading: async () => {
          leading = true;
          logger.info({}, 'leading: starting the controller');
          try {
            await controller.start();
          } catch (error) {
            logger.error({ err: error }, 'controller failed to start');
            lostLeadership('start failed');
          }
        },
        onStoppedLeading: () => {
          leading = false;
          logger.error({}, 'leadership lost: stopping all work and exiting');
          exitCode = 1;
          lostLeadership('leadership lost');
        },
      });
    } else {
      await controller.start();
    }
    const reason = await waitForStop(host, lost);
    logger.info({ reason }, 'stopping the controller');
  } catch (error) {
    await dashboard?.close();
    await server.close();
    await client.close();
    if (error instanceof VireoError) throw error;
    throw new VireoError('E_CONTROLLER_START', error instanceof Error ? error.message : String(error), {
      cause: error,
    });
  }
  await dashboard?.close();
  await controller.stop();
  if (elector !== undefined && exitCode === 0) await elector.release().catch(() => undefined);
  await server.close();
  await client.close();
  logger.flush();
  return exitCode;
}
