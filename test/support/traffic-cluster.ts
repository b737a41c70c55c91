/**
 * The test cluster that carries real traffic (docs/testing-traffic.md): the ordinary test
 * cluster (cluster.ts), Pods that really serve (pod-runner.ts), Traefik as the data plane
 * (traefik.ts) and Prometheus scraping Traefik and the Pods. Must run inside the private network
 * namespace (netns.ts): start it under scripts/in-private-netns.sh.
 */
import { startTestCluster, type TestCluster } from './cluster.js';
import { assertInPrivateNetworkNamespace } from './netns.js';
import { startPodRunner, type PodRunner } from './pod-runner.js';
import { startPrometheus, type TestPrometheus } from './prometheus.js';
import { NGINX_INGRESS_CLASS, startTraefik, type TestTraefik } from './traefik.js';
import { adminClient, adminKubeConfig } from './kube.js';
import { installMeshCrds } from './mesh-crds.js';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';

import { KubernetesObjectApi } from '@kubernetes/client-node';

export interface TrafficCluster {
  readonly cluster: TestCluster;
  readonly kubeconfigPath: string;
  readonly pods: PodRunner;
  readonly traefik: TestTraefik;
  readonly prometheus: TestPrometheus;
  stop(): Promise<void>;
}

export async function startTrafficCluster(
  options: {
    readonly log?: (line: string) => void;
    /** Traefik also serves IngressRoutes and TraefikServices; installs Traefik's CRDs first. */
    readonly traefikCRD?: boolean;
    /** Install the Gateway API CRDs and run Traefik's Gateway API provider too. */
    readonly gatewayApi?: boolean;
  } = {},
): Promise<TrafficCluster> {
  assertInPrivateNetworkNamespace();
  const log = options.log ?? ((): void => undefined);
  const cluster = await startTestCluster({ log });
  const stops: (() => Promise<void>)[] = [() => cluster.stop()];
  const stopAll = async (): Promise<void> => {
    for (const stop of stops.splice(0).reverse()) await stop();
  };
  try {
    const objects = KubernetesObjectApi.makeApiClient(adminKubeConfig(cluster));
    await objects.create(NGINX_INGRESS_CLASS);
    const scrapeTargetsFile = join(cluster.dir, 'pod-scrape-targets.json');
    await writeFile(scrapeTargetsFile, '[]');
    const pods = await startPodRunner({ kubeconfigPath: cluster.kubeconfigPath, log, scrapeTargetsFile });
    stops.push(() => pods.stop());
    if (options.traefikCRD === true || options.gatewayApi === true) {
      const client = await adminClient(cluster);
      try {
        if (options.traefikCRD === true) await installMeshCrds(client, 'traefik');
        if (options.gatewayApi === true) await installMeshCrds(client, 'gatewayapi');
      } finally {
        await client.close();
      }
    }
    const traefik = await startTraefik({
      kubeconfigPath: cluster.kubeconfigPath,
      log,
      kubernetesCRD: options.traefikCRD === true,
      kubernetesGateway: options.gatewayApi === true,
    });
    stops.push(() => traefik.stop());
    const prometheus = await startPrometheus({
      targets: [traefik.metricsTarget],
      extraScrapeConfigs: [
        {
          // The demo Pods' own /metrics, listed by the pod runner.
          job_name: 'pods',
          file_sd_configs: [{ files: [scrapeTargetsFile], refresh_interval: '1s' }],
          // The pod labels of Flagger's bundled Prometheus too, which the built-in checks of the
          // kubernetes and gatewayapi routers select on (docs/testing-traffic.md).
          relabel_configs: [
            { source_labels: ['namespace'], target_label: 'kubernetes_namespace' },
            { source_labels: ['pod'], target_label: 'kubernetes_pod_name' },
          ],
        },
      ],
    });
    stops.push(() => prometheus.stop());
    log(`prometheus at ${prometheus.url} scraping traefik and the demo pods`);
    return {
      cluster,
      kubeconfigPath: cluster.kubeconfigPath,
      pods,
      traefik,
      prometheus,
      stop: stopAll,
    };
  } catch (error) {
    await stopAll();
    throw error;
  }
}
