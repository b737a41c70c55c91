/**
 * The API resources the controller touches, with the paths the REST API serves them at. A static
 * table rather than discovery: the controller works on a known set of kinds, and a missing CRD
 * then shows up as a 404 naming the resource instead of a discovery failure at start.
 */
export interface ResourceType {
  /** "" for the core group. */
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

export const apiVersionOf = (resource: ResourceType): string =>
  resource.group === '' ? resource.version : `${resource.group}/${resource.version}`;

/**
 * The key of a resource's watch and cache: plural, version and group
 * (`virtualnodes.v1beta2.appmesh.k8s.aws`, `services.v1`). The version is part of it because one
 * kind may be served at several versions with different shapes (App Mesh v1beta1 and v1beta2, SMI
 * TrafficSplit v1alpha1 to v1alpha3): a router reading one version must never be answered from the
 * watch of another.
 */
export const resourceKey = (resource: ResourceType): string =>
  resource.group === ''
    ? `${resource.plural}.${resource.version}`
    : `${resource.plural}.${resource.version}.${resource.group}`;

const core = (plural: string, kind: string, namespaced = true): ResourceType => ({
  group: '',
  version: 'v1',
  plural,
  kind,
  namespaced,
});

export const RESOURCES = {
  configMaps: core('configmaps', 'ConfigMap'),
  secrets: core('secrets', 'Secret'),
  services: core('services', 'Service'),
  events: core('events', 'Event'),
  pods: core('pods', 'Pod'),
  namespaces: core('namespaces', 'Namespace', false),
  deployments: { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment', namespaced: true },
  daemonSets: { group: 'apps', version: 'v1', plural: 'daemonsets', kind: 'DaemonSet', namespaced: true },
  horizontalPodAutoscalers: {
    group: 'autoscaling',
    version: 'v2',
    plural: 'horizontalpodautoscalers',
    kind: 'HorizontalPodAutoscaler',
    namespaced: true,
  },
  /** KEDA's; read with GETs (not watched), so a cluster without KEDA needs none of its CRDs. */
  scaledObjects: {
    group: 'keda.sh',
    version: 'v1alpha1',
    plural: 'scaledobjects',
    kind: 'ScaledObject',
    namespaced: true,
  },
  /** Knative Serving's Service (a Knative target, and what the knative router splits). */
  knativeServices: {
    group: 'serving.knative.dev',
    version: 'v1',
    plural: 'services',
    kind: 'Service',
    namespaced: true,
  },
  /** Knative Serving's Revisions, read with GETs for their Ready condition. */
  knativeRevisions: {
    group: 'serving.knative.dev',
    version: 'v1',
    plural: 'revisions',
    kind: 'Revision',
    namespaced: true,
  },
  ingresses: {
    group: 'networking.k8s.io',
    version: 'v1',
    plural: 'ingresses',
    kind: 'Ingress',
    namespaced: true,
  },
  leases: { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
  canaries: {
    group: 'flagger.app',
    version: 'v1beta1',
    plural: 'canaries',
    kind: 'Canary',
    namespaced: true,
  },
  metricTemplates: {
    group: 'flagger.app',
    version: 'v1beta1',
    plural: 'metrictemplates',
    kind: 'MetricTemplate',
    namespaced: true,
  },
  alertProviders: {
    group: 'flagger.app',
    version: 'v1beta1',
    plural: 'alertproviders',
    kind: 'AlertProvider',
    namespaced: true,
  },
} as const satisfies Record<string, ResourceType>;

/** `/api/v1/namespaces/<ns>/services/<name>` and its variants; `namespace` undefined = all namespaces. */
export function resourcePath(
  resource: ResourceType,
  namespace?: string,
  name?: string,
  subresource?: string,
): string {
  const base = resource.group === '' ? '/api/v1' : `/apis/${resource.group}/${resource.version}`;
  const scope =
    resource.namespaced && namespace !== undefined ? `/namespaces/${encodeURIComponent(namespace)}` : '';
  const object = name === undefined ? '' : `/${encodeURIComponent(name)}`;
  const sub = subresource === undefined ? '' : `/${subresource}`;
  return `${base}${scope}/${resource.plural}${object}${sub}`;
}
