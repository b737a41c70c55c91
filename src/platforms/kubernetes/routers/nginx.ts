/**
 * The `nginx` provider (docs/flagger-compatibility.md#32-routers, "NGINX canary Ingress"): ingress-nginx's canary Ingress.
 * A copy of the user's Ingress, `<ingressRef>-canary`, sends to `<svc>-canary`; its annotations
 * tell ingress-nginx how much traffic (`canary-weight`) or which requests (`canary-by-header*`,
 * `canary-by-cookie`) go there. The user's Ingress is only read.
 */
import type { AnalysisMatch, Canary } from '../../../api/schema/canary.js';
import { analysisOf } from '../../../engine/settings.js';
import { VireoError } from '../../../shared/errors.js';
import { isAlreadyExists } from '../errors.js';
import { canaryOwnerReference } from '../options.js';
import { RESOURCES } from '../resources.js';
import {
  apexNameOf,
  FLUX_HANDS_OFF,
  isFluxKey,
  KUBECTL_LAST_APPLIED,
  objectPatchOf,
  namespaceOf,
  withoutKeys,
} from './objects.js';
import type { MeshRouter, RouterDeps, Routes } from './router.js';
import type { Ingress, IngressBackend, IngressSpec } from './types.js';

export type IngressRouterErrorCode =
  'E_INGRESS_REF' | 'E_INGRESS_NOT_FOUND' | 'E_INGRESS_BACKEND' | 'E_INGRESS_MATCH' | 'E_INGRESS_WEIGHT';

export class IngressRouterError extends VireoError {
  constructor(code: IngressRouterErrorCode, message: string) {
    super(code, message);
  }
}

/** The annotation keys setRoutes owns; anything else on the canary Ingress is left alone. */
const ROUTE_KEYS = [
  'canary',
  'canary-weight',
  'canary-by-header',
  'canary-by-header-value',
  'canary-by-header-pattern',
  'canary-by-cookie',
] as const;

type RouteKey = (typeof ROUTE_KEYS)[number];

const annotation = (prefix: string, key: RouteKey): string => `${prefix}/${key}`;

export const canaryIngressName = (ingressName: string): string => `${ingressName}-canary`;

/** The user's Ingress spec with every backend of `<svc>` sent to `<svc>-canary`. */
export function canaryIngressSpec(ingress: Ingress, apexName: string): IngressSpec {
  const spec = structuredClone(ingress.spec ?? {});
  let rewritten = 0;
  const rewrite = (backend: IngressBackend | undefined): void => {
    if (backend?.service?.name !== apexName) return;
    backend.service.name = `${apexName}-canary`;
    rewritten += 1;
  };
  rewrite(spec.defaultBackend);
  for (const rule of spec.rules ?? []) for (const path of rule.http?.paths ?? []) rewrite(path.backend);
  if (rewritten === 0) {
    throw new IngressRouterError(
      'E_INGRESS_BACKEND',
      `Ingress ${ingress.metadata.name} (spec.ingressRef) has no backend pointing at Service ${apexName}; point a rule or the default backend at ${apexName}, or set spec.service.name to the Service it uses`,
    );
  }
  return spec;
}

/**
 * The canary Ingress's annotations at creation: the user's, minus their own canary settings and
 * kubectl's record of them (which would otherwise describe the user's Ingress), starting at 0 %.
 */
export function initialCanaryAnnotations(
  original: Readonly<Record<string, string>> | undefined,
  prefix: string,
): Record<string, string> {
  return {
    ...withoutKeys(
      original,
      (key) => key.startsWith(`${prefix}/canary`) || key === KUBECTL_LAST_APPLIED || isFluxKey(key),
    ),
    ...FLUX_HANDS_OFF,
    [annotation(prefix, 'canary')]: 'true',
    [annotation(prefix, 'canary-weight')]: '0',
  };
}

function canaryIngressLabels(original: Ingress): Record<string, string> {
  return withoutKeys(original.metadata.labels, isFluxKey);
}

function pick(
  map: Readonly<Record<string, string>> | undefined,
  keys: readonly string[],
): Record<string, string> {
  return Object.fromEntries(keys.filter((key) => map?.[key] !== undefined).map((key) => [key, map![key]!]));
}

const isAbTesting = (canary: Canary): boolean => (analysisOf(canary.spec)?.match?.length ?? 0) > 0;

/**
 * The annotations for `canaryWeight`. Weighted: `canary-weight` = C. A/B with C>0: the match
 * headers, with the weight kept at 0 (ingress-nginx would otherwise add weighted traffic on top of
 * the matched requests). C=0 always means weight 0 and no header or cookie rule.
 */
export function routeAnnotations(
  current: Readonly<Record<string, string>> | undefined,
  canary: Canary,
  canaryWeight: number,
  prefix: string,
): Record<string, string> {
  const owned = new Set(ROUTE_KEYS.map((key) => annotation(prefix, key)));
  const next = withoutKeys(current, (key) => owned.has(key));
  next[annotation(prefix, 'canary')] = 'true';
  const abTesting = isAbTesting(canary) && canaryWeight > 0;
  next[annotation(prefix, 'canary-weight')] = String(abTesting ? 0 : canaryWeight);
  if (abTesting) Object.assign(next, matchAnnotations(analysisOf(canary.spec)?.match ?? [], prefix));
  return next;
}

/**
 * ingress-nginx routes on one header and one cookie: `cookie` names the cookie (requests carrying
 * it with value `always` go to the canary), any other header matches by exact value or regex.
 * Prefix and suffix have no ingress-nginx equivalent, so they fail rather than route nothing.
 */
export function matchAnnotations(matches: readonly AnalysisMatch[], prefix: string): Record<string, string> {
  const annotations: Record<string, string> = {};
  matches.forEach((match, index) => {
    for (const [header, condition] of Object.entries(match.headers ?? {})) {
      const field = `spec.analysis.match[${index}].headers.${header}`;
      if (header.toLowerCase() === 'cookie') {
        if (condition.exact === undefined) {
          throw new IngressRouterError(
            'E_INGRESS_MATCH',
            `${field}: the nginx provider routes by cookie name only; set exact to the cookie's name`,
          );
        }
        annotations[annotation(prefix, 'canary-by-cookie')] = condition.exact;
        continue;
      }
      annotations[annotation(prefix, 'canary-by-header')] = header;
      if (condition.exact !== undefined) {
        annotations[annotation(prefix, 'canary-by-header-value')] = condition.exact;
      } else if (condition.regex !== undefined) {
        annotations[annotation(prefix, 'canary-by-header-pattern')] = condition.regex;
      } else {
        throw new IngressRouterError(
          'E_INGRESS_MATCH',
          `${field}: the nginx provider matches headers by exact value or regex only; use exact or regex`,
        );
      }
    }
  });
  return annotations;
}

/** The routes the canary Ingress's annotations put in force. */
export function routesFromAnnotations(
  annotations: Readonly<Record<string, string>> | undefined,
  canary: Canary,
  prefix: string,
  ingressName: string,
): Routes {
  const has = (key: RouteKey): boolean => annotations?.[annotation(prefix, key)] !== undefined;
  if (isAbTesting(canary) && (has('canary-by-header') || has('canary-by-cookie'))) {
    return { primaryWeight: 0, canaryWeight: 100, mirrored: false };
  }
  const raw = annotations?.[annotation(prefix, 'canary-weight')] ?? '0';
  if (!/^\d+$/.test(raw.trim())) {
    throw new IngressRouterError(
      'E_INGRESS_WEIGHT',
      `Ingress ${ingressName}: annotation ${annotation(prefix, 'canary-weight')} is "${raw}", not a whole number; remove it and Vireo sets it again`,
    );
  }
  const canaryWeight = Math.min(100, Number(raw.trim()));
  return { primaryWeight: 100 - canaryWeight, canaryWeight, mirrored: false };
}

export class NginxRouter implements MeshRouter {
  constructor(private readonly deps: RouterDeps) {}

  /**
   * Creates `<ingressRef>-canary` at 0 %, or syncs its spec with the user's Ingress. The
   * annotations are the router's from creation on, so a reconcile never moves traffic.
   */
  async reconcile(canary: Canary): Promise<void> {
    const ingressName = this.ingressRefOf(canary);
    const namespace = namespaceOf(canary);
    const original = await this.deps.reader.get<Ingress>(RESOURCES.ingresses, namespace, ingressName);
    if (original === undefined) {
      throw new IngressRouterError(
        'E_INGRESS_NOT_FOUND',
        `Canary ${canary.metadata.name}.${namespace}: spec.ingressRef Ingress ${ingressName} does not exist in namespace ${namespace}; create it or fix spec.ingressRef.name`,
      );
    }
    const spec = canaryIngressSpec(original, apexNameOf(canary));
    const name = canaryIngressName(ingressName);
    const current = await this.deps.reader.get<Ingress>(RESOURCES.ingresses, namespace, name);
    if (current === undefined) {
      const created: Ingress = {
        apiVersion: 'networking.k8s.io/v1',
        kind: 'Ingress',
        metadata: {
          name,
          namespace,
          // The user's Ingress labels, as Flagger copies them (dashboards and policies select on them).
          labels: canaryIngressLabels(original),
          annotations: initialCanaryAnnotations(
            original.metadata.annotations,
            this.deps.options.ingressAnnotationsPrefix,
          ),
          ownerReferences: [canaryOwnerReference(canary)],
        },
        spec,
      };
      try {
        await this.deps.client.create(RESOURCES.ingresses, created);
      } catch (error) {
        // Not in the cache yet: the next reconcile reads it and syncs its spec.
        if (!isAlreadyExists(error)) throw error;
      }
      return;
    }
    // Labels follow the user's Ingress; Flux's hands-off annotations are added to Ingresses made
    // before they were (a merge patch of annotations leaves the routing ones alone).
    const patch = objectPatchOf(
      {
        spec: current.spec ?? {},
        metadata: {
          labels: current.metadata.labels ?? {},
          annotations: pick(current.metadata.annotations, Object.keys(FLUX_HANDS_OFF)),
        },
      },
      { spec, metadata: { labels: canaryIngressLabels(original), annotations: FLUX_HANDS_OFF } },
    );
    if (patch !== undefined) await this.deps.client.mergePatch(RESOURCES.ingresses, namespace, name, patch);
  }

  async getRoutes(canary: Canary): Promise<Routes> {
    const ingress = await this.readCanaryIngress(canary);
    return routesFromAnnotations(
      ingress.metadata.annotations,
      canary,
      this.deps.options.ingressAnnotationsPrefix,
      ingress.metadata.name,
    );
  }

  async setRoutes(canary: Canary, routes: Routes): Promise<void> {
    const ingress = await this.readCanaryIngress(canary);
    const current = ingress.metadata.annotations ?? {};
    const desired = routeAnnotations(
      current,
      canary,
      routes.canaryWeight,
      this.deps.options.ingressAnnotationsPrefix,
    );
    const patch = objectPatchOf({ annotations: current }, { annotations: desired });
    if (patch === undefined) return;
    await this.deps.client.mergePatch(RESOURCES.ingresses, namespaceOf(canary), ingress.metadata.name, {
      metadata: patch,
    });
  }

  /** The canary Ingress is the Canary's: garbage collection removes it, and the user's was never changed. */
  finalize(): Promise<void> {
    return Promise.resolve();
  }

  private ingressRefOf(canary: Canary): string {
    const name = canary.spec.ingressRef?.name;
    if (name === undefined || name === '') {
      throw new IngressRouterError(
        'E_INGRESS_REF',
        `Canary ${canary.metadata.name}.${namespaceOf(canary)}: the nginx provider needs spec.ingressRef naming the Ingress that exposes ${apexNameOf(canary)}`,
      );
    }
    return name;
  }

  private async readCanaryIngress(canary: Canary): Promise<Ingress> {
    const name = canaryIngressName(this.ingressRefOf(canary));
    const namespace = namespaceOf(canary);
    const ingress = await this.deps.reader.get<Ingress>(RESOURCES.ingresses, namespace, name);
    if (ingress === undefined) {
      throw new IngressRouterError(
        'E_INGRESS_NOT_FOUND',
        `Canary ${canary.metadata.name}.${namespace}: canary Ingress ${name} does not exist yet; it is created by the router's reconcile, which the next tick retries`,
      );
    }
    return ingress;
  }
}
