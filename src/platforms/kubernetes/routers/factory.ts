/**
 * Builds the engine's Router for a provider name: the generated Services (docs/flagger-compatibility.md#31-services) first,
 * then the provider's routing objects. An unknown or not-yet-supported name is an error, never a
 * silent fallback: Flagger routes unknown names through Istio, which only shows up as a canary
 * that never receives traffic.
 *
 * The `kubernetes` provider only does blue/green; the engine's progressionSettings already
 * forces iterations for it, so nothing here enforces the strategy.
 */
import type { Canary } from '../../../api/schema/canary.js';
import { VireoError } from '../../../shared/errors.js';
import { closestMatch } from '../../../validate/suggest.js';
import { KubernetesServices } from '../services.js';
import { KubernetesRouter } from './kubernetes.js';
import { NginxRouter } from './nginx.js';
import { namespaceOf } from './objects.js';
import type { AffinityCookies, MeshRouter, Router, RouterDeps, Routes } from './router.js';

const PROVIDERS: Readonly<Record<string, (deps: RouterDeps) => MeshRouter>> = {
  kubernetes: () => new KubernetesRouter(),
  nginx: (deps) => new NginxRouter(deps),
};

/** The provider names createRouter accepts, in the order error messages list them. */
export const SUPPORTED_ROUTER_PROVIDERS: readonly string[] = Object.keys(PROVIDERS).sort();

/** Where a provider name came from, so the error can point at the setting to change. */
export type RouterProviderOrigin =
  { readonly field: 'spec.provider'; readonly canary?: string } | { readonly field: '--mesh-provider' };

export class UnknownRouterError extends VireoError {
  constructor(
    readonly provider: string,
    origin: RouterProviderOrigin,
  ) {
    const where =
      origin.field === '--mesh-provider'
        ? 'the controller flag --mesh-provider (used by Canaries without spec.provider)'
        : `spec.provider${origin.canary === undefined ? '' : ` of Canary ${origin.canary}`}`;
    const suggestion = closestMatch(provider, SUPPORTED_ROUTER_PROVIDERS);
    super(
      'E_UNKNOWN_ROUTER',
      `router provider "${provider}" from ${where} is not supported; supported now: ${SUPPORTED_ROUTER_PROVIDERS.join(', ')}.${suggestion === undefined || suggestion === provider ? '' : ` Did you mean "${suggestion}"?`} Set ${origin.field} to one of them.`,
    );
  }
}

/**
 * The Router for one provider. Throws UnknownRouterError for any other name; `origin` only
 * shapes that message (default: spec.provider).
 */
export function createRouter(
  provider: string,
  deps: RouterDeps,
  origin: RouterProviderOrigin = { field: 'spec.provider' },
): Router {
  const build = Object.hasOwn(PROVIDERS, provider) ? PROVIDERS[provider] : undefined;
  if (build === undefined) throw new UnknownRouterError(provider, origin);
  return new ServicesThenProvider(new KubernetesServices(deps), build(deps));
}

/**
 * The Router the controller hands the engine: each canary gets the router of its spec.provider,
 * or of `meshProvider` (--mesh-provider) when unset. Routers are built once per provider. An
 * unsupported name fails that canary's calls (the engine reports it each tick), not the others.
 */
export function createCanaryRouter(meshProvider: string, deps: RouterDeps): Router {
  const routers = new Map<string, Router>();
  const routerOf = (canary: Canary): Router => {
    const provider = canary.spec.provider ?? meshProvider;
    let router = routers.get(provider);
    if (router === undefined) {
      const origin: RouterProviderOrigin =
        canary.spec.provider === undefined
          ? { field: '--mesh-provider' }
          : { field: 'spec.provider', canary: `${canary.metadata.name}.${namespaceOf(canary)}` };
      router = createRouter(provider, deps, origin);
      routers.set(provider, router);
    }
    return router;
  };
  return {
    // async, so an unknown provider rejects the promise instead of throwing at the call.
    reconcile: async (canary) => routerOf(canary).reconcile(canary),
    getRoutes: async (canary) => routerOf(canary).getRoutes(canary),
    setRoutes: async (canary, routes, cookies) => routerOf(canary).setRoutes(canary, routes, cookies),
    finalize: async (canary) => routerOf(canary).finalize(canary),
  };
}

class ServicesThenProvider implements Router {
  constructor(
    private readonly services: KubernetesServices,
    private readonly provider: MeshRouter,
  ) {}

  /** The Services first: the provider's objects route to `<svc>-canary` and `<svc>-primary`. */
  async reconcile(canary: Canary): Promise<void> {
    await this.services.reconcile(canary);
    await this.provider.reconcile(canary);
  }

  getRoutes(canary: Canary): Promise<Routes> {
    return this.provider.getRoutes(canary);
  }

  setRoutes(canary: Canary, routes: Routes, cookies?: AffinityCookies): Promise<void> {
    return this.provider.setRoutes(canary, routes, cookies);
  }

  /** Routing objects first, then the apex: traffic reaches the target pods only once nothing else routes. */
  async finalize(canary: Canary): Promise<void> {
    await this.provider.finalize(canary);
    await this.services.finalizeApex(canary);
  }
}
