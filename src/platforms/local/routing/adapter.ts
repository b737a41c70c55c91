/**
 * The engine's Router port for local mode: turns the routes the engine asks for (weights,
 * mirroring, A/B, session-affinity cookies) into a LocalRoute and hands it to the service's
 * router, the built-in proxy or real nginx. The routes in force are persisted with the canary's
 * state, so a restarted Vireo serves the same split before its first tick.
 */
import type { Canary } from '../../../api/schema/canary.js';
import { analysisOf } from '../../../engine/settings.js';
import { deploymentStrategy, type Routes } from '../../../engine/progression.js';
import { keyOf, type AffinityCookies, type Router } from '../../../engine/ports.js';
import type { RouteBackend } from './backend.js';
import { checkRoute } from './route-check.js';
import type { LocalRoute, SessionAffinityRule } from './route.js';
import type { LocalStateStore } from '../state.js';
import { primarySetName, targetSetName } from '../workloads.js';

export interface LocalRouterDeps {
  readonly state: LocalStateStore;
  /** Ready replica URLs of a process set. */
  readonly endpoints: (set: string) => string[];
  /** The backend of a canary's service (by its Workload's `router`). */
  readonly backendFor: (canary: Canary) => RouteBackend;
  /** Analysis interval in seconds: Max-Age of the primary affinity cookie (Flagger's). */
  readonly intervalSeconds: (canary: Canary) => number;
}

const DEFAULT_COOKIE_MAX_AGE = 86_400;
export const LOCAL_HOST = '127.0.0.1';

export class LocalRouterAdapter implements Router {
  constructor(private readonly deps: LocalRouterDeps) {}

  async reconcile(canary: Canary): Promise<void> {
    await this.refresh(canary);
  }

  getRoutes(canary: Canary): Promise<Routes> {
    return Promise.resolve({ ...this.deps.state.get(keyOf(canary)).routes });
  }

  /**
   * Persists and serves `routes`. A split no local router may serve (InvalidRouteError, naming the
   * field) is refused before it is persisted: the state keeps saying what is really served.
   */
  async setRoutes(canary: Canary, routes: Routes, cookies?: AffinityCookies): Promise<void> {
    checkRoute(this.routeFor(canary, routes, cookies));
    await this.deps.state.change(keyOf(canary), (state) => {
      state.routes = { ...routes };
      if (cookies === undefined) delete state.cookies;
      else state.cookies = { ...cookies };
    });
    await this.refresh(canary);
  }

  /** revertOnDeletion: all traffic to the target's own processes. */
  async finalize(canary: Canary): Promise<void> {
    await this.setRoutes(canary, { primaryWeight: 0, canaryWeight: 100, mirrored: false });
  }

  /** Re-applies the persisted routes with the replicas that are ready now (called when they change). */
  async refresh(canary: Canary): Promise<void> {
    await this.deps.backendFor(canary).apply(this.routeOf(canary));
  }

  routeOf(canary: Canary): LocalRoute {
    const state = this.deps.state.get(keyOf(canary));
    return this.routeFor(canary, state.routes, state.cookies);
  }

  private routeFor(canary: Canary, routes: Routes, cookies: AffinityCookies | undefined): LocalRoute {
    const analysis = analysisOf(canary.spec) ?? {};
    const abTesting = deploymentStrategy(analysis) === 'ab-testing';
    // A/B: the matching requests take the canary side of the split, everything else the primary.
    const matching = abTesting && routes.canaryWeight > 0;
    return {
      namespace: keyOf(canary).namespace,
      service: canary.spec.targetRef.name,
      listen: { host: LOCAL_HOST, port: canary.spec.service?.port ?? 0 },
      primary: this.deps.endpoints(primarySetName(canary)),
      canary: this.deps.endpoints(targetSetName(canary)),
      canaryWeight: matching ? 0 : routes.canaryWeight,
      mirror: routes.mirrored,
      mirrorWeight: analysis.mirrorWeight,
      match: matching ? (analysis.match ?? []) : [],
      sessionAffinity: this.affinity(canary, cookies),
    };
  }

  private affinity(canary: Canary, cookies: AffinityCookies | undefined): SessionAffinityRule | undefined {
    const settings = analysisOf(canary.spec)?.sessionAffinity;
    if (settings === undefined) return undefined;
    const value = (cookie: string | undefined): string | undefined => cookie?.split('=').slice(1).join('=');
    return {
      cookieName: settings.cookieName,
      canaryValue: value(cookies?.canary),
      primaryCookieName: settings.primaryCookieName,
      primaryValue: value(cookies?.primary),
      previousValue: value(cookies?.previous),
      maxAgeSeconds:
        settings.maxAge === undefined || settings.maxAge === 0 ? DEFAULT_COOKIE_MAX_AGE : settings.maxAge,
      primaryMaxAgeSeconds: this.deps.intervalSeconds(canary),
      path: settings.path,
      domain: settings.domain,
      httpOnly: settings.httpOnly,
      secure: settings.secure,
      sameSite: settings.sameSite,
    };
  }
}
