/**
 * What every local router backend does, and what each one can do.
 *
 * A backend serves the LocalRoutes of the services whose Workload names it in `spec.router`:
 * `builtin` (one built-in proxy per service, builtin/backend.ts) or `nginx` (one real nginx for
 * all of them, nginx/backend.ts). Both take exactly the routes route-check.ts accepts and write
 * the same cookies (cookies.ts); where they differ is in LOCAL_ROUTERS below, and only there
 * (docs/local/routing.md "What each router can do").
 */
import type { LocalRoute } from './route.js';

/** The values of a Workload's `spec.router`, in the order messages list them. */
export const LOCAL_ROUTER_NAMES = ['builtin', 'nginx'] as const;
export type LocalRouterName = (typeof LOCAL_ROUTER_NAMES)[number];

/** The default of `spec.router`. */
export const DEFAULT_LOCAL_ROUTER: LocalRouterName = 'builtin';

/** The contract of a local router backend; the engine's Router port reaches it through routing/adapter.ts. */
export interface RouteBackend {
  readonly name: LocalRouterName;
  /**
   * Serves `route` (starting a listener or process on first use) for the requests that arrive
   * from now on; requests in flight finish where they started. Rejects with InvalidRouteError
   * (E_INVALID_ROUTE) and keeps serving the previous route when the route breaks a rule.
   * Applies for one service run one after the other.
   */
  apply(route: LocalRoute): Promise<void>;
  /** Stops serving the service; nothing of it keeps running. */
  remove(namespace: string, service: string): Promise<void>;
  /** Where the service's clients connect, once it is served (e.g. http://127.0.0.1:41234). */
  url(namespace: string, service: string): string | undefined;
  /** Stops serving everything after the applies in flight; later applies do nothing. */
  closeAll(): Promise<void>;
}

/** What a local router does beyond the shared rules (route-check.ts), which both honour alike. */
export interface LocalRouterCapabilities {
  /** Decimals of the canary weight it splits by (nginx's split_clients keeps two). */
  readonly weightDecimals: number;
  /**
   * Where the built-in checks (request-success-rate, request-duration) read the canary's traffic:
   * the router's own measurements, or Prometheus scraping the replicas' GET /metrics.
   */
  readonly builtinChecksReadFrom: 'router' | 'prometheus';
  /** Whether mirrored copies count as canary traffic in those measurements. */
  readonly countsMirroredCopies: boolean;
  /** Where `vireo local status` reads the requests served per arm. */
  readonly servedCountsFrom: 'router' | 'access-log';
  /** One process serves every service of this router, each on its own port (else one listener per service). */
  readonly oneProcessForAllServices: boolean;
  /** Programs it runs, which must be on the PATH. */
  readonly programs: readonly string[];
  /** How a changed route takes effect. */
  readonly reconfigures: 'swap-table' | 'graceful-reload';
}

/** The one table of local router capabilities. */
export const LOCAL_ROUTERS: Readonly<Record<LocalRouterName, LocalRouterCapabilities>> = {
  builtin: {
    weightDecimals: Number.POSITIVE_INFINITY,
    builtinChecksReadFrom: 'router',
    countsMirroredCopies: true,
    servedCountsFrom: 'router',
    oneProcessForAllServices: false,
    programs: [],
    reconfigures: 'swap-table',
  },
  nginx: {
    weightDecimals: 2,
    builtinChecksReadFrom: 'prometheus',
    countsMirroredCopies: false,
    servedCountsFrom: 'access-log',
    oneProcessForAllServices: true,
    programs: ['nginx', 'prometheus'],
    reconfigures: 'graceful-reload',
  },
};
