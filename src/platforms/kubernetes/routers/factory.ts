/**
 * Builds the engine's Router for a provider name: the generated Services (docs/flagger-compatibility.md#31-services) first,
 * then the provider's routing objects. Names come from the router table (src/routers/traits.ts):
 * an unknown name is UnknownRouterError and a Flagger router not built yet is
 * RouterNotImplementedError, never a silent fallback (Flagger routes unknown names through Istio,
 * which only shows up as a canary that never receives traffic).
 *
 * A router without weights (kubernetes) only does blue/green; the engine's progressionSettings
 * applies that from the table, so nothing here enforces the strategy.
 */
import type { Canary } from '../../../api/schema/canary.js';
import {
  implementedRouter,
  implementedRouters,
  RouterNotImplementedError,
  type ProviderOrigin,
  type RouterName,
} from '../../../routers/traits.js';
import { KubernetesServices } from '../services.js';
import { KnativeRouter } from './knative.js';
import { GatewayApiRouter } from './gatewayapi.js';
import { ContourRouter } from './contour.js';
import { ApisixRouter } from './apisix.js';
import { AppMeshRouter } from './appmesh.js';
import { AppMeshV1beta2Router } from './appmesh-v1beta2.js';
import { GlooRouter } from './gloo.js';
import { IstioRouter } from './istio.js';
import { KubernetesRouter } from './kubernetes.js';
import { KumaRouter } from './kuma.js';
import { NginxRouter } from './nginx.js';
import { SkipperRouter } from './skipper.js';
import { namespaceOf } from './objects.js';
import { TraefikRouter } from './traefik.js';
import type { AffinityCookies, MeshRouter, Router, RouterDeps, Routes } from './router.js';
import { SmiRouter } from './smi.js';

export { RouterNotImplementedError, UnknownRouterError } from '../../../routers/traits.js';

/**
 * One builder per router the table says is implemented on Kubernetes; a test keeps the two in
 * step (factory.test.ts).
 */
export const ROUTER_BUILDERS: Partial<Readonly<Record<RouterName, (deps: RouterDeps) => MeshRouter>>> = {
  kubernetes: () => new KubernetesRouter(),
  nginx: (deps) => new NginxRouter(deps),
  knative: (deps) => new KnativeRouter(deps),
  traefik: (deps) => new TraefikRouter(deps),
  'gatewayapi:v1': (deps) => new GatewayApiRouter(deps, 'v1'),
  'gatewayapi:v1beta1': (deps) => new GatewayApiRouter(deps, 'v1beta1'),
  linkerd: (deps) => new SmiRouter(deps, 'linkerd'),
  osm: (deps) => new SmiRouter(deps, 'osm'),
  'smi:v1alpha1': (deps) => new SmiRouter(deps, 'smi:v1alpha1'),
  'smi:v1alpha2': (deps) => new SmiRouter(deps, 'smi:v1alpha2'),
  'smi:v1alpha3': (deps) => new SmiRouter(deps, 'smi:v1alpha3'),
  'smi:crossover': (deps) => new SmiRouter(deps, 'smi:crossover'),
  contour: (deps) => new ContourRouter(deps),
  gloo: (deps) => new GlooRouter(deps),
  kuma: (deps) => new KumaRouter(deps),
  apisix: (deps) => new ApisixRouter(deps),
  appmesh: (deps) => new AppMeshRouter(deps),
  'appmesh:v1beta2': (deps) => new AppMeshV1beta2Router(deps),
  skipper: (deps) => new SkipperRouter(deps),
  istio: (deps) => new IstioRouter(deps),
};

/** The provider names createRouter accepts, in the order error messages list them. */
export const SUPPORTED_ROUTER_PROVIDERS: readonly string[] = implementedRouters('kubernetes');

/**
 * The Router for one provider. Throws UnknownRouterError or RouterNotImplementedError for any
 * other name; `origin` only shapes that message (default: spec.provider).
 */
export function createRouter(
  provider: string,
  deps: RouterDeps,
  origin: ProviderOrigin = { field: 'spec.provider' },
): Router {
  const router = implementedRouter(provider, 'kubernetes', origin);
  const build = ROUTER_BUILDERS[router.name];
  // Unreachable while factory.test.ts holds: every router the table implements has a builder.
  if (build === undefined) throw new RouterNotImplementedError(provider, 'kubernetes', origin);
  // Routers that route to revisions (knative) get no generated Services (the router table says which).
  return router.writesServices
    ? new ServicesThenProvider(new KubernetesServices(deps), build(deps))
    : build(deps);
}

/**
 * The Router the controller hands the engine: each canary gets the router of its spec.provider,
 * or of `meshProvider` (--mesh-provider) when unset. Routers are built once per provider. An
 * unsupported name fails that canary's calls (the engine reports it each tick), not the others.
 */
export function createCanaryRouter(
  meshProvider: string,
  deps: RouterDeps,
  /** Told the provider of every call, before it runs (the controller starts that router's watches). */
  onProviderUsed: (provider: string) => void = () => undefined,
): Router {
  const routers = new Map<string, Router>();
  const routerOf = (canary: Canary): Router => {
    const provider = canary.spec.provider ?? meshProvider;
    onProviderUsed(provider);
    let router = routers.get(provider);
    if (router === undefined) {
      const origin: ProviderOrigin =
        canary.spec.provider === undefined
          ? { flag: '--mesh-provider', command: 'vireo controller' }
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
