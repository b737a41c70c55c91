/**
 * The RouteBackend of services whose Workload says `router: nginx`: one real nginx
 * (router/nginx.ts) serves all of them, each on its own listen port. nginx starts on the first
 * applied route, in `<directory>`, and every later apply reconfigures it with all routes
 * (a graceful reload). Applies and removals run one after the other, so two concurrent first
 * applies cannot start two nginx; a route nginx rejects is not kept, so it cannot poison the
 * next reload.
 */
import type { Logger } from 'pino';
import type { RouteBackend } from '../backend.js';
import { NginxRouter } from './nginx.js';
import type { LocalRoute } from '../route.js';

export interface NginxBackendOptions {
  /** nginx's own directory (config, logs, temp files). */
  readonly directory: string;
  readonly logger: Logger;
  /** The nginx executable (default `nginx` on the PATH). */
  readonly binary?: string;
}

const keyOf = (namespace: string, service: string): string => `${namespace}/${service}`;

export class NginxBackend implements RouteBackend {
  readonly name = 'nginx';
  private router: NginxRouter | undefined;
  private routes = new Map<string, LocalRoute>();
  private queue: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly options: NginxBackendOptions) {}

  apply(route: LocalRoute): Promise<void> {
    return this.serialized(async () => {
      // Replicas exiting during shutdown refresh their routes too: nginx must not come back.
      if (this.closed) return;
      const next = new Map(this.routes).set(keyOf(route.namespace, route.service), route);
      await this.serve(next);
    });
  }

  remove(namespace: string, service: string): Promise<void> {
    return this.serialized(async () => {
      const next = new Map(this.routes);
      if (!next.delete(keyOf(namespace, service))) return;
      await this.serve(next);
    });
  }

  /** Where a service's clients connect, once nginx listens for it. */
  url(namespace: string, service: string): string | undefined {
    const route = this.router?.routes.find((r) => r.namespace === namespace && r.service === service);
    return route === undefined ? undefined : `http://${route.listen.host}:${route.listen.port}`;
  }

  /** nginx's access log (JSON lines, see router/nginx-access-log.ts), once nginx has started. */
  get accessLogPath(): string | undefined {
    return this.router?.paths.accessLog;
  }

  /** Stops nginx after the applies in flight; nothing starts it again. */
  async closeAll(): Promise<void> {
    this.closed = true;
    await this.queue;
    await this.router?.stop();
    this.router = undefined;
  }

  private async serve(routes: Map<string, LocalRoute>): Promise<void> {
    if (routes.size === 0) {
      await this.router?.stop();
      this.router = undefined;
    } else if (this.router === undefined || !this.router.running) {
      // An nginx that died on its own may have left workers behind: stop() ends them.
      await this.router?.stop();
      this.router = await NginxRouter.start([...routes.values()], {
        directory: this.options.directory,
        logger: this.options.logger,
        ...(this.options.binary === undefined ? {} : { binary: this.options.binary }),
      });
    } else {
      await this.router.configure([...routes.values()]);
    }
    this.routes = routes;
  }

  private serialized(work: () => Promise<void>): Promise<void> {
    const next = this.queue.then(work);
    this.queue = next.catch(() => undefined);
    return next;
  }
}
