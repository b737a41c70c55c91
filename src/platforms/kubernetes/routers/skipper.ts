/**
 * The `skipper` provider (docs/routers/skipper.md): Zalando's Skipper ingress. Like nginx, a copy
 * of the user's Ingress, `<ingressRef>-canary`, does the splitting: every path to `<svc>` goes to
 * `<svc>-primary`, and a duplicate of it to `<svc>-canary`; `zalando.org/backend-weights` sets
 * their shares. Its `zalando.org/skipper-predicate` starts with `Weight(100)` while the canary
 * takes traffic, so Skipper prefers it over the user's Ingress, and with `False()` at 0 %, so the
 * user's Ingress (untouched) serves alone. Skipper cannot route by header: no A/B.
 */
import type { Canary } from '../../../api/schema/canary.js';
import { analysisOf } from '../../../engine/settings.js';
import { canaryOwnerReference } from '../options.js';
import { RESOURCES } from '../resources.js';
import { IngressRouterError } from './nginx.js';
import {
  ALL_TO_PRIMARY,
  canaryName,
  createOrSync,
  routesFromWeights,
  type MeshObject,
} from './mesh-objects.js';
import {
  apexNameOf,
  FLUX_HANDS_OFF,
  isFluxKey,
  KUBECTL_LAST_APPLIED,
  namespaceOf,
  withoutKeys,
} from './objects.js';
import type { MeshRouter, RouterDeps, Routes } from './router.js';
import type { Ingress, IngressPath, IngressSpec } from './types.js';

export const SKIPPER_BACKEND_WEIGHTS = 'zalando.org/backend-weights';
export const SKIPPER_PREDICATE = 'zalando.org/skipper-predicate';

/** The leading predicates the router owns; what follows them is the user's own predicate. */
const OWNED_PREDICATE = /^\s*(?:Weight\(\d+\)|False\(\))\s*(?:&&\s*)?/;

export const skipperCanaryIngressName = (ingressName: string): string => `${ingressName}-canary`;

/** The user's Ingress spec with each path to `<svc>` sent to `<svc>-primary`, followed by its `<svc>-canary` twin. */
export function skipperCanarySpec(ingress: Ingress, apexName: string): IngressSpec {
  const spec = structuredClone(ingress.spec ?? {});
  let rewritten = 0;
  for (const rule of spec.rules ?? []) {
    if (rule.http === undefined) continue;
    const paths: IngressPath[] = [];
    for (const path of rule.http.paths) {
      if (path.backend.service?.name !== apexName) {
        paths.push(path);
        continue;
      }
      rewritten += 1;
      paths.push({ ...path, backend: { service: { ...path.backend.service, name: `${apexName}-primary` } } });
      paths.push({ ...path, backend: { service: { ...path.backend.service, name: `${apexName}-canary` } } });
    }
    rule.http.paths = paths;
  }
  if (rewritten === 0) {
    throw new IngressRouterError(
      'E_INGRESS_BACKEND',
      `Ingress ${ingress.metadata.name} (spec.ingressRef) has no rule path pointing at Service ${apexName}; point a path at ${apexName} (Skipper weights paths, not the default backend), or set spec.service.name to the Service it uses`,
    );
  }
  return spec;
}

/** The user's predicate with the router's lead: `Weight(100)` while the canary takes traffic, `False()` at 0 %. */
export function skipperPredicate(userPredicate: string | undefined, canaryWeight: number): string {
  const lead = canaryWeight > 0 ? 'Weight(100)' : 'False()';
  const own = (userPredicate ?? '').replace(OWNED_PREDICATE, '').trim();
  return own === '' ? lead : `${lead} && ${own}`;
}

export function skipperRouteAnnotations(
  canary: Canary,
  userPredicate: string | undefined,
  routes: Routes,
): Record<string, string> {
  const apex = apexNameOf(canary);
  return {
    ...FLUX_HANDS_OFF,
    [SKIPPER_BACKEND_WEIGHTS]: JSON.stringify({
      [`${apex}-primary`]: routes.primaryWeight,
      [`${apex}-canary`]: routes.canaryWeight,
    }),
    [SKIPPER_PREDICATE]: skipperPredicate(userPredicate, routes.canaryWeight),
  };
}

export function skipperRoutesOf(ingress: Ingress, canary: Canary): Routes {
  const raw = ingress.metadata.annotations?.[SKIPPER_BACKEND_WEIGHTS];
  const where = `Ingress ${ingress.metadata.name} annotation ${SKIPPER_BACKEND_WEIGHTS}`;
  let weights: Record<string, unknown> = {};
  try {
    const parsed: unknown = JSON.parse(raw ?? '{}');
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed))
      weights = parsed as Record<string, unknown>;
  } catch {
    // Reported below as weights that are not numbers.
  }
  const apex = apexNameOf(canary);
  return routesFromWeights(weights[`${apex}-primary`], weights[`${apex}-canary`], where);
}

/** Skipper routes by weight only: an A/B canary is refused, naming the field, rather than run as a canary. */
function refuseHeaderRouting(canary: Canary): void {
  if ((analysisOf(canary.spec)?.match?.length ?? 0) === 0) return;
  throw new IngressRouterError(
    'E_INGRESS_MATCH',
    `Canary ${canaryName(canary)}: spec.analysis.match is set, but the skipper provider cannot route by header or cookie (no A/B testing); remove spec.analysis.match and use stepWeight, or use a provider with A/B testing (docs/routers/README.md)`,
  );
}

export class SkipperRouter implements MeshRouter {
  constructor(private readonly deps: RouterDeps) {}

  /** Creates `<ingressRef>-canary` at 0 % (`False()`), or syncs its spec with the user's Ingress at the weights in force. */
  async reconcile(canary: Canary): Promise<void> {
    refuseHeaderRouting(canary);
    const original = await this.readUserIngress(canary);
    const namespace = namespaceOf(canary);
    const name = skipperCanaryIngressName(original.metadata.name);
    const current = await this.deps.reader.get<Ingress>(RESOURCES.ingresses, namespace, name);
    const routes = current === undefined ? ALL_TO_PRIMARY : skipperRoutesOf(current, canary);
    await createOrSync(
      this.deps.client,
      RESOURCES.ingresses,
      current,
      this.canaryIngress(canary, original, routes),
    );
  }

  async getRoutes(canary: Canary): Promise<Routes> {
    return skipperRoutesOf(await this.readCanaryIngress(canary), canary);
  }

  async setRoutes(canary: Canary, routes: Routes): Promise<void> {
    refuseHeaderRouting(canary);
    await this.route(canary, routes);
  }

  /**
   * revertOnDeletion: the canary Ingress goes back to `False()` at 100/0, so the user's Ingress
   * alone serves before garbage collection removes it (the controller holds no delete right).
   */
  async finalize(canary: Canary): Promise<void> {
    const name = skipperCanaryIngressName(this.ingressRefOf(canary));
    if ((await this.deps.reader.get<Ingress>(RESOURCES.ingresses, namespaceOf(canary), name)) === undefined)
      return;
    await this.route(canary, ALL_TO_PRIMARY);
  }

  private async route(canary: Canary, routes: Routes): Promise<void> {
    const original = await this.readUserIngress(canary);
    const current = await this.readCanaryIngress(canary);
    const desired = this.canaryIngress(canary, original, routes);
    // Only the routing annotations: the spec follows the user's Ingress in reconcile.
    await createOrSync(this.deps.client, RESOURCES.ingresses, current, {
      metadata: { ...desired.metadata, labels: {} },
    });
  }

  private canaryIngress(canary: Canary, original: Ingress, routes: Routes): MeshObject {
    const annotations = original.metadata.annotations;
    return {
      apiVersion: 'networking.k8s.io/v1',
      kind: 'Ingress',
      metadata: {
        name: skipperCanaryIngressName(original.metadata.name),
        namespace: namespaceOf(canary),
        labels: withoutKeys(original.metadata.labels, isFluxKey),
        annotations: {
          ...withoutKeys(annotations, (key) => key === KUBECTL_LAST_APPLIED || isFluxKey(key)),
          ...skipperRouteAnnotations(canary, annotations?.[SKIPPER_PREDICATE], routes),
        },
        ownerReferences: [canaryOwnerReference(canary)],
      },
      spec: skipperCanarySpec(original, apexNameOf(canary)),
    };
  }

  private ingressRefOf(canary: Canary): string {
    const name = canary.spec.ingressRef?.name;
    if (name === undefined || name === '') {
      throw new IngressRouterError(
        'E_INGRESS_REF',
        `Canary ${canaryName(canary)}: the skipper provider needs spec.ingressRef naming the Ingress that exposes ${apexNameOf(canary)}`,
      );
    }
    return name;
  }

  private async readUserIngress(canary: Canary): Promise<Ingress> {
    const name = this.ingressRefOf(canary);
    const namespace = namespaceOf(canary);
    const ingress = await this.deps.reader.get<Ingress>(RESOURCES.ingresses, namespace, name);
    if (ingress === undefined) {
      throw new IngressRouterError(
        'E_INGRESS_NOT_FOUND',
        `Canary ${canaryName(canary)}: spec.ingressRef Ingress ${name} does not exist in namespace ${namespace}; create it or fix spec.ingressRef.name`,
      );
    }
    return ingress;
  }

  private async readCanaryIngress(canary: Canary): Promise<Ingress> {
    const name = skipperCanaryIngressName(this.ingressRefOf(canary));
    const ingress = await this.deps.reader.get<Ingress>(RESOURCES.ingresses, namespaceOf(canary), name);
    if (ingress === undefined) {
      throw new IngressRouterError(
        'E_INGRESS_NOT_FOUND',
        `Canary ${canaryName(canary)}: canary Ingress ${name} does not exist yet; it is created by the router's reconcile, which the next tick retries`,
      );
    }
    return ingress;
  }
}
