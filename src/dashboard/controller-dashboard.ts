/**
 * `vireo controller --dashboard-port PORT`: the dashboard served by the controller itself, fed by
 * its informers (controller-backend.ts), with users' Kubernetes tokens reviewed by the API server
 * and, when VIREO_DASHBOARD_TOKEN is set, the dashboard token (docs/dashboard.md).
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { KubeClient } from '../platforms/kubernetes/client.js';
import { UsageError } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { dashboardToken, serveDashboard, type ServedDashboard } from './command.js';
import { ControllerCacheBackend, type ControllerCaches } from './controller-backend.js';
import { ClusterReviews } from './kubernetes-reviews.js';

export function parseDashboardPort(value: string): number {
  const port = Number(value);
  if (!/^\d+$/.test(value) || port > 65_535)
    throw new UsageError(`--dashboard-port: "${value}" is not a port number (0–65535; 0 picks a free port)`);
  return port;
}

export async function startControllerDashboard(options: {
  readonly port: number;
  readonly host: string;
  readonly caches: ControllerCaches & { readonly health: () => Record<string, unknown> };
  readonly client: KubeClient;
  readonly kubeConfig: KubeConfig;
  readonly env: NodeJS.ProcessEnv;
  readonly logger: Logger;
  readonly leader: () => boolean;
}): Promise<ServedDashboard> {
  const token = dashboardToken(undefined, options.env);
  // Actions are written with the controller's own credentials, after the user's RBAC allowed them.
  const { ClusterBackend } = await import('../cli/ops/cluster-backend.js');
  const writer = await ClusterBackend.fromKubeConfig(options.kubeConfig);
  const served = await serveDashboard({
    host: options.host,
    port: options.port,
    token,
    backend: new ControllerCacheBackend(options.caches),
    reviews: new ClusterReviews(options.client),
    actions: writer,
    mode: 'controller',
    logger: options.logger,
    env: options.env,
    controllerHealth: () => ({ leader: options.leader(), ...options.caches.health() }),
  });
  return {
    server: served.server,
    close: async () => {
      await served.close();
      await writer.close();
    },
  };
}
