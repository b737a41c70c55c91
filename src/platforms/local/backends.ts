/**
 * Where local mode's traffic goes: the built-in proxy (one per service) or, for Workloads with
 * `router: nginx`, one real nginx, and the Prometheus that answers those canaries' built-in
 * checks by scraping their replicas. nginx and Prometheus start only once a Workload asks for
 * nginx (docs/local/README.md).
 */
import { join } from 'node:path';
import type { Canary } from '../../api/schema/canary.js';
import { keyOf } from '../../engine/ports.js';
import type { Logger } from '../../shared/logger.js';
import type { LocalCatalog } from './catalog.js';
import { SCRAPE_INTERVAL_SECONDS } from './check-metrics.js';
import { OnDemandPrometheus, replicaScrapeTargets } from './prometheus-process.js';
import type { RouteBackend } from './routing/backend.js';
import type { ProxyBackend } from './routing/builtin/backend.js';
import type { TrafficRecorder } from './routing/builtin/recorder.js';
import { createRouteBackends } from './routing/factory.js';
import type { NginxBackend } from './routing/nginx/backend.js';
import type { ReplicaStatus } from './supervisor.js';
import { primarySetName, targetSetName } from './workloads.js';

export interface LocalBackendsDeps {
  /** The state directory: nginx and Prometheus keep their files under it. */
  readonly directory: string;
  readonly logger: Logger;
  readonly recorder: TrafficRecorder;
  readonly catalog: LocalCatalog;
  /** The replicas of a process set, read when Prometheus's targets are refreshed. */
  readonly replicas: (set: string) => readonly ReplicaStatus[];
}

export class LocalBackends {
  readonly proxies: ProxyBackend;
  readonly nginx: NginxBackend;
  readonly prometheus: OnDemandPrometheus;

  constructor(private readonly deps: LocalBackendsDeps) {
    const { catalog, logger } = deps;
    const backends = createRouteBackends({
      recorder: deps.recorder,
      logger,
      nginxDirectory: join(deps.directory, 'nginx'),
    });
    this.proxies = backends.builtin;
    this.nginx = backends.nginx;
    // Scrapes the replicas of nginx-routed canaries.
    this.prometheus = new OnDemandPrometheus({
      directory: join(deps.directory, 'prometheus'),
      logger,
      scrapeIntervalSeconds: SCRAPE_INTERVAL_SECONDS,
      targets: () =>
        catalog.canaries
          .filter((canary) => catalog.usesNginx(canary))
          .flatMap((canary) =>
            replicaScrapeTargets({
              namespace: keyOf(canary).namespace,
              target: canary.spec.targetRef.name,
              canary: deps.replicas(targetSetName(canary)),
              primary: deps.replicas(primarySetName(canary)),
            }),
          ),
    });
  }

  /** The backend of a canary's service, by its Workload's `router`. */
  backendFor(canary: Canary): RouteBackend {
    return this.deps.catalog.usesNginx(canary) ? this.nginx : this.proxies;
  }

  /** Where a service answers, once its router listens. */
  url(namespace: string, service: string): string | undefined {
    return this.proxies.url(namespace, service) ?? this.nginx.url(namespace, service);
  }

  urlOf(canary: Canary): string | undefined {
    return this.url(keyOf(canary).namespace, canary.spec.targetRef.name);
  }

  /** Stops serving a canary's service on the backend it used. */
  remove(canary: Canary, usedNginx: boolean): Promise<void> {
    return (usedNginx ? this.nginx : this.proxies).remove(
      keyOf(canary).namespace,
      canary.spec.targetRef.name,
    );
  }

  /** Starts Prometheus once some applied Workload has `router: nginx`. */
  async startPrometheusIfNeeded(): Promise<void> {
    const { catalog } = this.deps;
    if (catalog.canaries.some((canary) => catalog.usesNginx(canary))) await this.prometheus.ensure();
  }

  async closeAll(): Promise<void> {
    await this.proxies.closeAll();
    await this.nginx.closeAll();
    await this.prometheus.stop();
  }
}
