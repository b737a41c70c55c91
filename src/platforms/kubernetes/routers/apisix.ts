/**
 * The `apisix` provider (docs/routers/apisix.md): Apache APISIX's ingress controller. The
 * ApisixRoute `<routeRef>-<svc>-canary` (apisix.apache.org/v2) holds a copy of the one http rule
 * of the user's route (`spec.routeRef`) whose single backend is `<svc>`, at priority 10000 so it
 * wins over the user's rule, with two weighted backends: `<svc>-primary` and `<svc>-canary`. The
 * user's route is only read; the canary route is the Canary's.
 */
import type { Canary } from '../../../api/schema/canary.js';
import { canaryOwnerReference } from '../options.js';
import {
  ALL_TO_PRIMARY,
  canaryName,
  createOrSync,
  generatedAnnotations,
  MeshRouterError,
  routesFromWeights,
  writtenResource,
  type MeshObject,
} from './mesh-objects.js';
import { apexNameOf, isFluxKey, namespaceOf, withoutKeys } from './objects.js';
import type { MeshRouter, RouterDeps, Routes } from './router.js';

export const APISIX_ROUTES = writtenResource('apisix', 'ApisixRoute');

/** Above any priority a user gives their own rules, so APISIX picks the canary rule first. */
export const CANARY_RULE_PRIORITY = 10000;

interface ApisixBackend {
  serviceName?: string;
  servicePort?: number | string;
  weight?: number;
  resolveGranularity?: string;
  subset?: string;
  [field: string]: unknown;
}

interface ApisixHttpRule {
  name?: string;
  priority?: number;
  backends?: ApisixBackend[];
  [field: string]: unknown;
}

export const apisixCanaryRouteName = (canary: Canary, routeName: string): string =>
  `${routeName}-${apexNameOf(canary)}-canary`;

/** The user's rule whose only backend is `<svc>`, or E_MESH_REF naming the route. */
export function apisixApexRule(route: MeshObject, canary: Canary): ApisixHttpRule {
  const apex = apexNameOf(canary);
  const rules = (route.spec?.['http'] ?? []) as ApisixHttpRule[];
  const rule = rules.find(
    (candidate) => candidate.backends?.length === 1 && candidate.backends[0]?.serviceName === apex,
  );
  if (rule === undefined) {
    throw new MeshRouterError(
      'E_MESH_REF',
      `ApisixRoute ${route.metadata.name} (spec.routeRef) has no http rule whose only backend is Service ${apex}; give one rule the single backend ${apex}, or set spec.service.name to the Service it uses`,
    );
  }
  return rule;
}

/** The canary route's spec: the apex rule at priority 10000 with primary P and canary C. */
export function apisixCanarySpec(route: MeshObject, canary: Canary, routes: Routes): Record<string, unknown> {
  const rule = structuredClone(apisixApexRule(route, canary));
  const apexBackend = rule.backends![0]!;
  const backend = (side: 'primary' | 'canary', weight: number): ApisixBackend => ({
    ...apexBackend,
    serviceName: `${apexNameOf(canary)}-${side}`,
    weight,
  });
  return {
    http: [
      {
        ...rule,
        priority: CANARY_RULE_PRIORITY,
        backends: [backend('primary', routes.primaryWeight), backend('canary', routes.canaryWeight)],
      },
    ],
  };
}

export function apisixRoutesOf(route: MeshObject, canary: Canary): Routes {
  const backends = ((route.spec?.['http'] ?? []) as ApisixHttpRule[])[0]?.backends ?? [];
  const weightOf = (side: 'primary' | 'canary'): unknown =>
    backends.find((backend) => backend.serviceName === `${apexNameOf(canary)}-${side}`)?.weight;
  return routesFromWeights(
    weightOf('primary'),
    weightOf('canary'),
    `ApisixRoute ${route.metadata.name} spec.http[0].backends`,
  );
}

export class ApisixRouter implements MeshRouter {
  constructor(private readonly deps: RouterDeps) {}

  /** Creates the canary route at 100/0, or syncs it with the user's rule at the weights in force. */
  async reconcile(canary: Canary): Promise<void> {
    const original = await this.readUserRoute(canary);
    const current = await this.deps.reader.get<MeshObject>(
      APISIX_ROUTES,
      namespaceOf(canary),
      apisixCanaryRouteName(canary, original.metadata.name),
    );
    const routes = current === undefined ? ALL_TO_PRIMARY : apisixRoutesOf(current, canary);
    await createOrSync(this.deps.client, APISIX_ROUTES, current, this.canaryRoute(canary, original, routes));
  }

  async getRoutes(canary: Canary): Promise<Routes> {
    return apisixRoutesOf(await this.readCanaryRoute(canary), canary);
  }

  async setRoutes(canary: Canary, routes: Routes): Promise<void> {
    const original = await this.readUserRoute(canary);
    const current = await this.readCanaryRoute(canary);
    await createOrSync(this.deps.client, APISIX_ROUTES, current, this.canaryRoute(canary, original, routes));
  }

  /** The canary route is the Canary's (garbage collected); the user's route was never changed. */
  finalize(): Promise<void> {
    return Promise.resolve();
  }

  private canaryRoute(canary: Canary, original: MeshObject, routes: Routes): MeshObject {
    return {
      apiVersion: 'apisix.apache.org/v2',
      kind: 'ApisixRoute',
      metadata: {
        name: apisixCanaryRouteName(canary, original.metadata.name),
        namespace: namespaceOf(canary),
        // The user's labels (an ingressClass selector may rely on them), without Flux's ownership.
        labels: withoutKeys(original.metadata.labels, isFluxKey),
        annotations: generatedAnnotations(),
        ownerReferences: [canaryOwnerReference(canary)],
      },
      spec: apisixCanarySpec(original, canary, routes),
    };
  }

  private routeRefOf(canary: Canary): { name: string; namespace: string } {
    const ref = canary.spec.routeRef;
    if (ref === undefined || ref.name === '') {
      throw new MeshRouterError(
        'E_MESH_REF',
        `Canary ${canaryName(canary)}: the apisix provider needs spec.routeRef naming the ApisixRoute (apisix.apache.org/v2) that exposes ${apexNameOf(canary)}`,
      );
    }
    return { name: ref.name, namespace: namespaceOf(canary) };
  }

  private async readUserRoute(canary: Canary): Promise<MeshObject> {
    const { name, namespace } = this.routeRefOf(canary);
    const route = await this.deps.reader.get<MeshObject>(APISIX_ROUTES, namespace, name);
    if (route === undefined) {
      throw new MeshRouterError(
        'E_MESH_NOT_FOUND',
        `Canary ${canaryName(canary)}: spec.routeRef ApisixRoute ${name} does not exist in namespace ${namespace}; create it or fix spec.routeRef.name`,
      );
    }
    return route;
  }

  private async readCanaryRoute(canary: Canary): Promise<MeshObject> {
    const name = apisixCanaryRouteName(canary, this.routeRefOf(canary).name);
    const route = await this.deps.reader.get<MeshObject>(APISIX_ROUTES, namespaceOf(canary), name);
    if (route === undefined) {
      throw new MeshRouterError(
        'E_MESH_NOT_FOUND',
        `Canary ${canaryName(canary)}: ApisixRoute ${name} does not exist yet; the router's reconcile creates it, and the next tick retries`,
      );
    }
    return route;
  }
}
