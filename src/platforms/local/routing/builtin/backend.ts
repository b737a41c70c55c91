/**
 * The RouteBackend of services whose Workload says `router: builtin` (the default): one built-in
 * proxy (proxy.ts) per service, listening on the Canary's `service.port`. A changed route swaps
 * the proxy's routing table; a changed listen address closes the proxy once its requests are
 * answered and starts a new one.
 */
import type { Logger } from 'pino';
import type { RouteBackend } from '../backend.js';
import type { LocalRoute } from '../route.js';
import { ProxyRouter } from './proxy.js';
import type { TrafficRecorder } from './recorder.js';

/** One built-in proxy per service; applies to one service run one after the other. */
export class ProxyBackend implements RouteBackend {
  readonly name = 'builtin';
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
