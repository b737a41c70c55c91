/**
 * Local mode's built-in routing backend: one proxy (router/proxy.ts) per service, listening on
 * the Canary's `service.port`, every request recorded by the shared TrafficRecorder.
 */
import type { Logger } from '../../shared/logger.js';
import type { RouteBackend } from './router-adapter.js';
import { ProxyRouter } from './router/proxy.js';
import type { TrafficRecorder } from './router/recorder.js';
import type { LocalRoute } from './router/route.js';

/** One built-in proxy per service; applies to one service run one after the other. */
export class ProxyBackend implements RouteBackend {
  private readonly proxies = new Map<string, ProxyRouter>();
  private readonly queues = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    private readonly recorder: TrafficRecorder,
    private readonly logger: Logger,
  ) {}

  apply(route: LocalRoute): Promise<void> {
    // The engine and replica changes both refresh routes: two first applies must not both listen.
    return this.serialized(`${route.namespace}/${route.service}`, async (key) => {
      // Replicas exiting during shutdown refresh their routes too: no listener may come back.
      if (this.closed) return;
      let proxy = this.proxies.get(key);
      // A new service.port is a new listener: the old one closes once its requests are answered.
      const { host, port } = proxy?.route.listen ?? route.listen;
      if (proxy !== undefined && (host !== route.listen.host || port !== route.listen.port)) {
        await proxy.close();
        this.proxies.delete(key);
        proxy = undefined;
      }
      if (proxy === undefined) {
        this.proxies.set(
          key,
          await ProxyRouter.start(route, { recorder: this.recorder, logger: this.logger }),
        );
      } else {
        proxy.configure(route);
      }
    });
  }

  url(namespace: string, service: string): string | undefined {
    return this.proxies.get(`${namespace}/${service}`)?.url;
  }

  remove(namespace: string, service: string): Promise<void> {
    return this.serialized(`${namespace}/${service}`, async (key) => {
      await this.proxies.get(key)?.close();
      this.proxies.delete(key);
    });
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.queues.values()]);
    await Promise.all([...this.proxies.values()].map((proxy) => proxy.close()));
    this.proxies.clear();
  }

  private serialized(key: string, work: (key: string) => Promise<void>): Promise<void> {
    const next = (this.queues.get(key) ?? Promise.resolve()).then(() => work(key));
    this.queues.set(
      key,
      next.catch(() => undefined),
    );
    return next;
  }
}
