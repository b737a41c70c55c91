/**
 * `vireo controller` (the built binary, a real process) routing canaries through gloo, kuma,
 * apisix, appmesh:v1beta2, skipper and knative on one real kube-apiserver serving each mesh's own
 * CRDs (the official Gloo, Kuma and App Mesh ones under test/fixtures/mesh-crds/, APISIX's and
 * Knative Serving's from their pinned Go modules): what a Flagger user sees in each router's own
 * object. Initialization writes it at primary 100 / canary 0; an image change moves the weights
 * step by step and promotes; a failing acceptance webhook (a loopback server answering 500) rolls
 * back to 100/0; A/B by header where the router table says the router has it; and what a router
 * cannot do is refused with a Kubernetes Event naming the field.
 *
 * One cluster and one controller for the file; each router's canaries in namespaces of their own,
 * run side by side. Knative's controller cannot run here (it needs its networking layer): a
 * stand-in writes what it would report (a new Revision per template, Ready, and status.traffic
 * resolved from spec.traffic), as test/cluster/knative.test.ts does.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { APISIX_ROUTES } from '../../src/platforms/kubernetes/routers/apisix.js';
import {
  APPMESH_V1BETA1_NODES,
  APPMESH_V1BETA1_SERVICES,
} from '../../src/platforms/kubernetes/routers/appmesh.js';
import {
  APPMESH_V1BETA2_NODES,
  APPMESH_V1BETA2_ROUTERS,
  APPMESH_V1BETA2_SERVICES,
} from '../../src/platforms/kubernetes/routers/appmesh-v1beta2.js';
import { GLOO_ROUTE_TABLES, GLOO_UPSTREAMS } from '../../src/platforms/kubernetes/routers/gloo.js';
import { KUMA_TRAFFIC_ROUTES } from '../../src/platforms/kubernetes/routers/kuma.js';
import type { MeshObject } from '../../src/platforms/kubernetes/routers/mesh-objects.js';
import type { Ingress } from '../../src/platforms/kubernetes/routers/types.js';
import type {
  KnativeRevision,
  KnativeService,
  KnativeTrafficTarget,
  ScaledObject,
} from '../../src/platforms/kubernetes/workloads/types.js';
import { podinfoDeployment } from '../support/canary-fixtures.js';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.js';
import { CRDS, ensureNamespace, eventually, startKubeTest, type KubeTest } from '../support/kube.js';
import { installMeshCrds } from '../support/mesh-crds.js';
import { startRecordingServer, type RecordingServer } from '../support/recording-server.js';
import {
  givenInitializedCanary,
  phaseOf,
  primaryImage,
  rollOut,
  type RolloutCase,
  type RolloutWorld,
} from '../support/router-rollouts.js';

// Every router's canaries run side by side (13 tests): the default limit of 5 would queue them.
vi.setConfig({ maxConcurrency: 16 });

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'mesh-crds');
const OLD = 'ghcr.io/stefanprodan/podinfo:6.0.0';
const NEXT = 'ghcr.io/stefanprodan/podinfo:6.0.1';
const AFTER = 'ghcr.io/stefanprodan/podinfo:6.0.2';
const AB_MATCH = [{ headers: { 'x-canary': { exact: 'insider' } } }];

let kube: KubeTest;
let client: KubeClient;
let controller: ControllerProcess | undefined;
let webhook: RecordingServer;
/** A Prometheus answering every query with 0, recording the queries a MetricTemplate renders. */
let prometheus: RecordingServer;
let world: RolloutWorld;
const stopStandIns: (() => Promise<void>)[] = [];

/**
 * Per namespace, how many more acceptance calls pass before the webhook answers 500 (absent:
 * always 200), so a rollback happens in the middle of the analysis, with traffic on the canary.
 */
const passesLeft = new Map<string, number>();

beforeAll(async () => {
  kube = await startKubeTest();
  client = kube.client;
  await installMeshCrds(client, {
    files: ['gloo.yaml', 'kuma.yaml', 'appmesh.yaml'].map((file) => join(FIXTURES, file)),
  });
  await serveMinimalAppMeshV1beta1();
  await installMeshCrds(client, 'apisix');
  await installMeshCrds(client, 'knative');
  await installMeshCrds(client, 'keda');
  webhook = await startRecordingServer((request) => {
    const namespace = (JSON.parse(request.body || '{}') as { namespace?: string }).namespace ?? '';
    const left = passesLeft.get(namespace);
    if (left === undefined) return { status: 200, body: 'ok' };
    if (left > 0) {
      passesLeft.set(namespace, left - 1);
      return { status: 200, body: 'ok' };
    }
    return { status: 500, body: 'acceptance tests failed' };
  });
  prometheus = await startRecordingServer(() => ({
    status: 200,
    contentType: 'application/json',
    body: JSON.stringify({
      status: 'success',
      data: { resultType: 'vector', result: [{ metric: {}, value: [0, '0'] }] },
    }),
  }));
  controller = await startControllerProcess(kube.cluster.kubeconfigPath);
  world = { client, controller };
}, 900_000);

afterAll(async () => {
  await Promise.allSettled(stopStandIns.map((stop) => stop()));
  if (controller !== undefined) {
    const code = await controller.stop('SIGTERM');
    if (code !== 0) console.error(`controller exited ${code}:\n${controller.tail()}`);
  }
  await Promise.allSettled([webhook?.close(), prometheus?.close()]);
  await kube?.stop();
}, 120_000);

/**
 * App Mesh's v1beta1 API (Flagger's `appmesh` provider) has no obtainable CRD: the official ones in
 * test/fixtures/mesh-crds/ serve v1beta2 only, and the Go module of App Mesh's controller, whose early
 * releases carried v1beta1, is refused by the Go proxy. So a minimal v1beta1 version of OURS, with no
 * schema (any fields kept), is added to the official VirtualNode and VirtualService CRDs. It is the
 * storage version so that v1beta2 objects, validated by the official schema, keep their fields too, and
 * v1beta1 objects are read back whole. This proves the controller's run, not v1beta1's schema.
 */
async function serveMinimalAppMeshV1beta1(): Promise<void> {
  for (const plural of ['virtualnodes', 'virtualservices']) {
    const crd = await get(CRDS, undefined, `${plural}.appmesh.k8s.aws`);
    const versions: Record<string, unknown>[] = (crd.spec?.['versions'] as Record<string, unknown>[]).map(
      (version) => ({
        ...version,
        storage: false,
      }),
    );
    versions.push({
      name: 'v1beta1',
      served: true,
      storage: true,
      schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
    });
    await client.apply(CRDS, {
      apiVersion: crd.apiVersion,
      kind: crd.kind,
      metadata: { name: crd.metadata.name },
      spec: { ...crd.spec, versions },
    });
  }
  for (const resource of [APPMESH_V1BETA1_NODES, APPMESH_V1BETA1_SERVICES]) {
    await eventually(
      () =>
        client.list(resource, 'default').then(
          () => true,
          () => false,
        ),
      (served) => served,
      60_000,
      `${resource.plural}.${resource.version}.${resource.group} served`,
    );
  }
}

const get = async (
  resource: Parameters<KubeClient['get']>[0],
  namespace: string | undefined,
  name: string,
): Promise<MeshObject> => {
  const object = await client.get<MeshObject>(resource, namespace, name);
  expect(object, `${resource.kind} ${namespace ?? ''}/${name}`).toBeDefined();
  return object!;
};

async function canaryUid(namespace: string): Promise<string> {
  return (await get(RESOURCES.canaries, namespace, 'podinfo')).metadata.uid ?? '';
}

/** Owned by the Canary as its controller, and kept away from Flux. */
async function expectOwnedByCanary(object: KubeObject, namespace: string): Promise<void> {
  expect(object.metadata.ownerReferences, `${object.kind} ${object.metadata.name} owner`).toEqual([
    expect.objectContaining({
      apiVersion: 'flagger.app/v1beta1',
      kind: 'Canary',
      name: 'podinfo',
      uid: await canaryUid(namespace),
      controller: true,
    }),
  ]);
  expect(object.metadata.annotations).toMatchObject({
    'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
  });
}

/** The generated Services a router sends traffic to: apex, primary and canary, selecting the right pods. */
async function expectGeneratedServices(namespace: string): Promise<void> {
  for (const [name, selected] of [
    ['podinfo', 'podinfo-primary'],
    ['podinfo-primary', 'podinfo-primary'],
    ['podinfo-canary', 'podinfo'],
  ] as const) {
    const service = await get(RESOURCES.services, namespace, name);
    expect(service.spec?.['selector'], `Service ${name} selector`).toEqual({ app: selected });
  }
}

const number = (value: unknown): number | undefined => (value === undefined ? undefined : Number(value));

/** Each router's canary weight, read from its own object with no Vireo code in between. */
const weightReaders = {
  gloo: (namespace: string) => async () => {
    const table = await client.get<MeshObject>(GLOO_ROUTE_TABLES, namespace, 'podinfo');
    const routes = table?.spec?.['routes'] as
      { routeAction?: { multi?: { destinations?: Record<string, unknown>[] } } }[] | undefined;
    const destination = routes?.[0]?.routeAction?.multi?.destinations?.find(
      (entry) =>
        (entry['destination'] as { upstream?: { name?: string } }).upstream?.name ===
        `${namespace}-podinfo-canaryupstream-80`,
    );
    return number(destination?.['weight']);
  },
  kuma: (namespace: string) => async () => {
    const route = await client.get<MeshObject>(KUMA_TRAFFIC_ROUTES, undefined, 'podinfo');
    const split = (route?.spec?.['conf'] as { split?: Record<string, unknown>[] } | undefined)?.split;
    const entry = split?.find(
      (each) =>
        (each['destination'] as Record<string, string>)['kuma.io/service'] ===
        `podinfo-canary_${namespace}_svc_80`,
    );
    return number(entry?.['weight']);
  },
  apisix: (namespace: string) => async () => {
    const route = await client.get<MeshObject>(APISIX_ROUTES, namespace, 'web-podinfo-canary');
    const backends = (route?.spec?.['http'] as { backends?: Record<string, unknown>[] }[] | undefined)?.[0]
      ?.backends;
    return number(backends?.find((backend) => backend['serviceName'] === 'podinfo-canary')?.['weight']);
  },
  appmeshv1beta1: (namespace: string) => async () => {
    const service = await client.get<MeshObject>(APPMESH_V1BETA1_SERVICES, namespace, `podinfo.${namespace}`);
    const routes = service?.spec?.['routes'] as
      { http?: { action?: { weightedTargets?: Record<string, unknown>[] } } }[] | undefined;
    const target = routes?.[0]?.http?.action?.weightedTargets?.find(
      (each) => each['virtualNodeName'] === 'podinfo-canary',
    );
    return number(target?.['weight']);
  },
  appmesh: (namespace: string) => async () => {
    const router = await client.get<MeshObject>(APPMESH_V1BETA2_ROUTERS, namespace, 'podinfo');
    const routes = router?.spec?.['routes'] as
      { httpRoute?: { action?: { weightedTargets?: Record<string, unknown>[] } } }[] | undefined;
    const target = routes?.[0]?.httpRoute?.action?.weightedTargets?.find(
      (each) => (each['virtualNodeRef'] as { name?: string }).name === 'podinfo-canary',
    );
    return number(target?.['weight']);
  },
  skipper: (namespace: string) => async () => {
    const ingress = await client.get<Ingress>(RESOURCES.ingresses, namespace, 'podinfo-canary');
    const weights = ingress?.metadata.annotations?.['zalando.org/backend-weights'];
    return weights === undefined
      ? undefined
      : number((JSON.parse(weights) as Record<string, number>)['podinfo-canary']);
  },
  knative: (namespace: string) => async () => {
    const service = await client.get<KnativeService>(RESOURCES.knativeServices, namespace, 'podinfo');
    return number(service?.spec?.traffic?.find((entry) => entry.latestRevision === true)?.percent);
  },
};

/** The user's Ingress a skipper canary names in spec.ingressRef. */
async function skipperIngress(namespace: string): Promise<void> {
  await client.apply(RESOURCES.ingresses, {
    metadata: { name: 'podinfo', namespace },
    spec: {
      ingressClassName: 'skipper',
      rules: [
        {
          host: 'app.example.com',
          http: {
            paths: [
              {
                path: '/',
                pathType: 'Prefix',
                backend: { service: { name: 'podinfo', port: { number: 80 } } },
              },
            ],
          },
        },
      ],
    },
  });
}

/** The user's ApisixRoute an apisix canary names in spec.routeRef. */
async function apisixRoute(namespace: string): Promise<void> {
  await client.apply(APISIX_ROUTES, {
    metadata: { name: 'web', namespace, labels: { team: 'payments' } },
    spec: {
      http: [
        {
          name: 'app',
          match: { hosts: ['app.example.com'], paths: ['/*'] },
          backends: [{ serviceName: 'podinfo', servicePort: 80 }],
        },
      ],
    },
  });
}

const SKIPPER_SPEC = {
  ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'podinfo' },
};
const APISIX_SPEC = {
  routeRef: { apiVersion: 'apisix.apache.org/v2', kind: 'ApisixRoute', name: 'web' },
};
const KNATIVE_TARGET = { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: 'podinfo' };

/**
 * What Knative's controller would report for Service podinfo of `namespace`, kept up until
 * stopped: each new template is a new Revision `podinfo-0000N`, Ready at once; status names the
 * latest and resolves spec.traffic (latestRevision: true) into revision names.
 */
function actAsKnative(namespace: string): () => Promise<void> {
  let running = true;
  let lastTemplate: string | undefined;
  let revisions = 0;
  const revisionName = () => `podinfo-${String(revisions).padStart(5, '0')}`;
  const step = async (): Promise<void> => {
    const service = await client.get<KnativeService>(RESOURCES.knativeServices, namespace, 'podinfo');
    if (service === undefined) return;
    const template = JSON.stringify(service.spec?.template ?? {});
    if (template !== lastTemplate) {
      revisions += 1;
      const revision = await client.apply<KnativeRevision>(RESOURCES.knativeRevisions, {
        apiVersion: 'serving.knative.dev/v1',
        kind: 'Revision',
        metadata: { name: revisionName(), namespace },
        spec: (service.spec?.template as { spec?: unknown } | undefined)?.spec ?? {},
      });
      await client.replaceStatus(RESOURCES.knativeRevisions, {
        ...revision,
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      });
      lastTemplate = template;
    }
    const latest = revisionName();
    const traffic: KnativeTrafficTarget[] = (
      service.spec?.traffic ?? [{ latestRevision: true, percent: 100 }]
    ).map((entry) => ({
      revisionName: entry.latestRevision === true ? latest : entry.revisionName,
      latestRevision: entry.latestRevision === true,
      percent: entry.percent ?? 0,
    }));
    const status = { latestCreatedRevisionName: latest, latestReadyRevisionName: latest, traffic };
    if (JSON.stringify(service.status ?? {}) === JSON.stringify(status)) return;
    await client.replaceStatus(RESOURCES.knativeServices, { ...service, status });
  };
  const loop = (async () => {
    while (running) {
      // A conflict with the controller's own write is retried on the next pass, as Knative would.
      await step().catch(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

/**
 * Knative Service podinfo, its stand-in, and a MetricTemplate whose query selects the revision
 * by `{{ route }}` (Flagger: the latest created revision of a Knative target).
 */
async function knativeService(namespace: string): Promise<void> {
  await client.apply(RESOURCES.metricTemplates, {
    metadata: { name: 'revision-errors', namespace },
    spec: {
      provider: { type: 'prometheus', address: prometheus.url },
      query:
        'sum(rate(revision_request_count{namespace_name="{{ namespace }}",revision_name="{{ route }}",response_code_class="5xx"}[{{ interval }}]))',
    },
  });
  await client.apply(RESOURCES.knativeServices, {
    apiVersion: 'serving.knative.dev/v1',
    kind: 'Service',
    metadata: { name: 'podinfo', namespace },
    spec: { template: { spec: { containers: [{ image: OLD }] } } },
  });
  stopStandIns.push(actAsKnative(namespace));
  await eventually(
    () => client.get<KnativeService>(RESOURCES.knativeServices, namespace, 'podinfo'),
    (service) => service?.status?.latestCreatedRevisionName === 'podinfo-00001',
    60_000,
    `Knative Service ${namespace}/podinfo has its first revision`,
  );
}

const changeKnativeImage = (namespace: string) => async (image: string) => {
  await client.mergePatch(RESOURCES.knativeServices, namespace, 'podinfo', {
    spec: { template: { spec: { containers: [{ image }] } } },
  });
};

/** The Warning Events on Canary podinfo of `namespace`. */
async function canaryWarnings(namespace: string): Promise<string[]> {
  const events = await client.list<
    KubeObject & { type?: string; message?: string; involvedObject?: { kind?: string; name?: string } }
  >(RESOURCES.events, namespace);
  return events.items
    .filter((event) => event.type === 'Warning' && event.involvedObject?.kind === 'Canary')
    .map((event) => event.message ?? '');
}

async function expectWarningEvent(namespace: string, pattern: RegExp): Promise<string> {
  const found = await eventually(
    () => canaryWarnings(namespace),
    (messages) => messages.some((message) => pattern.test(message)),
    120_000,
    `a Warning Event on Canary podinfo.${namespace} matching ${pattern}`,
  );
  return found.find((message) => pattern.test(message))!;
}

interface RouterCase {
  readonly provider: string;
  /** Namespace prefix, one per router. */
  readonly name: keyof typeof weightReaders;
  readonly spec?: Record<string, unknown>;
  readonly before?: (namespace: string) => Promise<void>;
  readonly targetRef?: RolloutCase['targetRef'];
  /** More analysis fields (metrics), with the default 20 % steps up to 60 %. */
  readonly metrics?: Record<string, unknown>[];
  readonly changeImage?: (namespace: string) => (image: string) => Promise<void>;
  /** What initialization must have written, beyond the weights. */
  readonly initialized: (namespace: string) => Promise<void>;
  /** The primary's image after a rollout (the primary Deployment's, or the primary revision's). */
  readonly primaryImage?: (namespace: string) => Promise<string | undefined>;
  /** A/B by header (the router table's headerMatch); undefined: refused. */
  readonly abTesting?: (namespace: string) => Promise<unknown>;
}

const routerCase = (router: RouterCase, namespace: string): RolloutCase => ({
  namespace,
  provider: router.provider,
  webhookUrl: webhook.url,
  canaryWeight: weightReaders[router.name](namespace),
  ...(router.spec === undefined ? {} : { spec: router.spec }),
  ...(router.before === undefined ? {} : { before: () => router.before!(namespace) }),
  ...(router.targetRef === undefined ? {} : { targetRef: router.targetRef }),
  ...(router.metrics === undefined
    ? {}
    : { analysis: { stepWeight: 20, maxWeight: 60, metrics: router.metrics } }),
  ...(router.changeImage === undefined ? {} : { changeImage: router.changeImage(namespace) }),
});

/** The image of the revision named as the primary by Knative Service podinfo. */
async function knativePrimaryImage(namespace: string): Promise<string | undefined> {
  const service = await client.get<KnativeService>(RESOURCES.knativeServices, namespace, 'podinfo');
  const primary = service?.metadata.annotations?.['flagger.app/primary-revision'];
  if (primary === undefined) return undefined;
  const revision = await client.get<KubeObject & { spec?: { containers?: { image?: string }[] } }>(
    RESOURCES.knativeRevisions,
    namespace,
    primary,
  );
  return revision?.spec?.containers?.[0]?.image;
}

const ROUTERS: RouterCase[] = [
  {
    provider: 'gloo',
    name: 'gloo',
    initialized: async (namespace) => {
      for (const side of ['primary', 'canary']) {
        const upstream = await get(GLOO_UPSTREAMS, namespace, `${namespace}-podinfo-${side}upstream-80`);
        expect(upstream.spec?.['kube']).toEqual({
          serviceName: `podinfo-${side}`,
          serviceNamespace: namespace,
          servicePort: 80,
        });
        await expectOwnedByCanary(upstream, namespace);
      }
      await expectOwnedByCanary(await get(GLOO_ROUTE_TABLES, namespace, 'podinfo'), namespace);
      await expectGeneratedServices(namespace);
    },
    abTesting: async (namespace) => {
      const table = await get(GLOO_ROUTE_TABLES, namespace, 'podinfo');
      return table.spec?.['routes'];
    },
  },
  {
    provider: 'kuma',
    name: 'kuma',
    initialized: async (namespace) => {
      const route = await get(KUMA_TRAFFIC_ROUTES, undefined, 'podinfo');
      expect(route['mesh']).toBe('default');
      expect(route.spec?.['destinations']).toEqual([
        { match: { 'kuma.io/service': `podinfo_${namespace}_svc_80` } },
      ]);
      // Cluster-scoped: no owner reference can point at a namespaced Canary; an annotation names it.
      expect(route.metadata.ownerReferences).toBeUndefined();
      expect(route.metadata.annotations).toMatchObject({ 'vireo.dev/canary': `podinfo.${namespace}` });
      expect(
        (route.spec?.['conf'] as { split: { weight: number }[] }).split.map((entry) => entry.weight),
      ).toEqual([100, 0]);
      await expectGeneratedServices(namespace);
    },
  },
  {
    provider: 'apisix',
    name: 'apisix',
    spec: APISIX_SPEC,
    before: apisixRoute,
    initialized: async (namespace) => {
      const route = await get(APISIX_ROUTES, namespace, 'web-podinfo-canary');
      expect(route.metadata.labels).toEqual({ team: 'payments' });
      const rule = (route.spec?.['http'] as Record<string, unknown>[])[0]!;
      expect(rule['priority']).toBe(10000);
      expect(rule['backends']).toEqual([
        { serviceName: 'podinfo-primary', servicePort: 80, weight: 100 },
        { serviceName: 'podinfo-canary', servicePort: 80, weight: 0 },
      ]);
      await expectOwnedByCanary(route, namespace);
      await expectGeneratedServices(namespace);
    },
  },
  {
    provider: 'appmesh',
    name: 'appmeshv1beta1',
    spec: { service: { port: 80, targetPort: 9898, meshName: 'global' } },
    initialized: async (namespace) => {
      for (const side of ['primary', 'canary'] as const) {
        const node = await get(APPMESH_V1BETA1_NODES, namespace, `podinfo-${side}`);
        expect(node.apiVersion).toBe('appmesh.k8s.aws/v1beta1');
        expect(node.spec?.['meshName']).toBe('global');
        expect(node.spec?.['serviceDiscovery']).toEqual({
          dns: { hostName: `podinfo-${side}.${namespace}` },
        });
        await expectOwnedByCanary(node, namespace);
      }
      for (const name of [`podinfo.${namespace}`, `podinfo-canary.${namespace}`]) {
        await expectOwnedByCanary(await get(APPMESH_V1BETA1_SERVICES, namespace, name), namespace);
      }
      const apex = await get(APPMESH_V1BETA1_SERVICES, namespace, `podinfo.${namespace}`);
      expect(
        (
          apex.spec?.['routes'] as {
            http: { action: { weightedTargets: { virtualNodeName: string; weight: number }[] } };
          }[]
        )[0]!.http.action.weightedTargets,
      ).toEqual([
        { virtualNodeName: 'podinfo-canary', weight: 0 },
        { virtualNodeName: 'podinfo-primary', weight: 100 },
      ]);
      await expectGeneratedServices(namespace);
    },
    abTesting: async (namespace) =>
      (await get(APPMESH_V1BETA1_SERVICES, namespace, `podinfo.${namespace}`)).spec?.['routes'],
  },
  {
    provider: 'appmesh:v1beta2',
    name: 'appmesh',
    initialized: async (namespace) => {
      for (const side of ['primary', 'canary'] as const) {
        const node = await get(APPMESH_V1BETA2_NODES, namespace, `podinfo-${side}`);
        expect(node.spec?.['podSelector']).toEqual({
          matchLabels: { app: side === 'primary' ? 'podinfo-primary' : 'podinfo' },
        });
        await expectOwnedByCanary(node, namespace);
      }
      for (const name of ['podinfo', 'podinfo-canary']) {
        await expectOwnedByCanary(await get(APPMESH_V1BETA2_ROUTERS, namespace, name), namespace);
        await expectOwnedByCanary(await get(APPMESH_V1BETA2_SERVICES, namespace, name), namespace);
      }
      const primary = (
        (await get(APPMESH_V1BETA2_ROUTERS, namespace, 'podinfo')).spec?.['routes'] as {
          httpRoute: { action: { weightedTargets: { virtualNodeRef: { name: string }; weight: number }[] } };
        }[]
      )[0]!.httpRoute.action.weightedTargets.map((target) => [target.virtualNodeRef.name, target.weight]);
      expect(primary).toEqual([
        ['podinfo-canary', 0],
        ['podinfo-primary', 100],
      ]);
      await expectGeneratedServices(namespace);
    },
    abTesting: async (namespace) => {
      const router = await get(APPMESH_V1BETA2_ROUTERS, namespace, 'podinfo');
      return router.spec?.['routes'];
    },
  },
  {
    provider: 'skipper',
    name: 'skipper',
    spec: SKIPPER_SPEC,
    before: skipperIngress,
    initialized: async (namespace) => {
      const ingress = (await client.get<Ingress>(RESOURCES.ingresses, namespace, 'podinfo-canary'))!;
      expect(ingress.metadata.annotations).toMatchObject({
        'zalando.org/backend-weights': '{"podinfo-primary":100,"podinfo-canary":0}',
        'zalando.org/skipper-predicate': 'False()',
      });
      const paths = ingress.spec?.rules?.[0]?.http?.paths ?? [];
      expect(paths.map((path) => path.backend.service?.name)).toEqual(['podinfo-primary', 'podinfo-canary']);
      await expectOwnedByCanary(ingress, namespace);
      // The user's Ingress is left as it was.
      const user = (await client.get<Ingress>(RESOURCES.ingresses, namespace, 'podinfo'))!;
      expect(user.spec?.rules?.[0]?.http?.paths[0]?.backend.service?.name).toBe('podinfo');
      await expectGeneratedServices(namespace);
    },
  },
  {
    provider: 'knative',
    name: 'knative',
    targetRef: KNATIVE_TARGET,
    before: knativeService,
    metrics: [
      {
        name: 'revision-errors',
        templateRef: { name: 'revision-errors' },
        interval: '1m',
        thresholdRange: { max: 1 },
      },
    ],
    changeImage: changeKnativeImage,
    primaryImage: knativePrimaryImage,
    initialized: async (namespace) => {
      const service = (await client.get<KnativeService>(RESOURCES.knativeServices, namespace, 'podinfo'))!;
      expect(service.metadata.annotations?.['flagger.app/primary-revision']).toBe('podinfo-00001');
      expect(service.spec?.traffic).toEqual([
        { latestRevision: true, percent: 0 },
        { revisionName: 'podinfo-00001', latestRevision: false, percent: 100 },
      ]);
      // Knative routes to revisions itself: no generated Services.
      expect(await client.get(RESOURCES.services, namespace, 'podinfo-primary')).toBeUndefined();
      expect(await client.get(RESOURCES.services, namespace, 'podinfo-canary')).toBeUndefined();
    },
  },
];

const imageOfPrimary = (router: RouterCase, namespace: string) =>
  (router.primaryImage ?? ((each: string) => primaryImage(client, each)))(namespace);

describe.concurrent('vireo controller routing through each mesh', () => {
  describe.each(ROUTERS)('$provider', (router) => {
    const namespace = `ctl-${router.name}`;
    const rollout = (): RolloutCase => routerCase(router, namespace);

    it(`given a Canary routed by ${router.provider}, when the controller initializes it, then the router's objects are written with primary 100 / canary 0, named and owned as Flagger's; then an image change moves 20, 40, 60 % to the canary and promotes; then a failing acceptance webhook rolls back to 100/0`, async () => {
      await givenInitializedCanary(world, rollout());
      expect(await rollout().canaryWeight()).toBe(0);
      await router.initialized(namespace);

      const promoted = await rollOut(world, rollout(), NEXT, ['Succeeded']);
      expect(promoted.filter((weight) => weight !== 0)).toEqual([20, 40, 60]);
      expect(promoted.at(-1)).toBe(0);
      expect(await imageOfPrimary(router, namespace)).toBe(NEXT);

      // Two steps pass, then the webhook fails: traffic had moved, and comes back.
      passesLeft.set(namespace, 2);
      const rolledBack = await rollOut(world, rollout(), AFTER, ['Failed']);
      passesLeft.delete(namespace);
      expect(rolledBack.some((weight) => (weight ?? 0) > 0)).toBe(true);
      expect(rolledBack.at(-1)).toBe(0);
      expect(await imageOfPrimary(router, namespace)).toBe(NEXT);
      await expectWarningEvent(namespace, /Rolling back podinfo\.\S+ failed checks threshold reached 2/);
    }, 900_000);

    if (router.abTesting !== undefined) {
      const readRoutes = router.abTesting;
      it(`given an A/B Canary routed by ${router.provider} matching header x-canary, when the image changes, then only matching requests go to the canary during the iterations, and it promotes back to the primary`, async () => {
        const abNamespace = `${namespace}-ab`;
        const ab: RolloutCase = {
          ...routerCase(router, abNamespace),
          analysis: { iterations: 2, match: AB_MATCH },
        };
        await givenInitializedCanary(world, ab);
        const during: unknown[] = [];
        const sampling: RolloutCase = {
          ...ab,
          canaryWeight: async () => {
            const weight = await ab.canaryWeight();
            if (weight === 100 && during.length === 0) during.push(await readRoutes(abNamespace));
            return weight;
          },
        };
        const weights = await rollOut(world, sampling, NEXT, ['Succeeded']);
        expect(weights.filter((weight) => weight !== 0)).toEqual([100]);
        expect(weights.at(-1)).toBe(0);
        // While the canary had the matching requests, the rest stayed on the primary.
        expect(JSON.stringify(during[0])).toContain('x-canary');
        expect(JSON.stringify(during[0])).toContain('insider');
        expect(await primaryImage(client, abNamespace)).toBe(NEXT);
      }, 900_000);
    } else {
      it(`given an A/B Canary routed by ${router.provider}, when the controller sees it, then it is not run and a Warning Event names spec.analysis.match`, async () => {
        const abNamespace = `${namespace}-ab`;
        await ensureNamespace(client, abNamespace);
        await router.before?.(abNamespace);
        if (router.targetRef === undefined)
          await client.create(RESOURCES.deployments, podinfoDeployment(abNamespace));
        await client.apply(RESOURCES.canaries, {
          metadata: { name: 'podinfo', namespace: abNamespace },
          spec: {
            provider: router.provider,
            targetRef: router.targetRef ?? { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
            ...(router.targetRef === undefined ? { service: { port: 80, targetPort: 9898 } } : {}),
            ...router.spec,
            analysis: { interval: '2s', threshold: 2, iterations: 2, match: AB_MATCH },
          },
        });
        const message = await expectWarningEvent(abNamespace, /spec\.analysis\.match/);
        expect(message).toContain(`the ${router.provider} router cannot route by header or cookie`);
        // Nothing was initialized: no primary, and the router wrote nothing.
        expect(await phaseOf(client, abNamespace)).toBe('');
        expect(await weightReaders[router.name](abNamespace)()).toBeUndefined();
      }, 300_000);
    }
  });

  it('given a skipper Canary with weights and a header match, when the controller sees it, then it is refused with a Warning Event naming spec.analysis.match, and no canary Ingress is written', async () => {
    const namespace = 'ctl-skipper-match';
    await ensureNamespace(client, namespace);
    await skipperIngress(namespace);
    await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
    await client.apply(RESOURCES.canaries, {
      metadata: { name: 'podinfo', namespace },
      spec: {
        provider: 'skipper',
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
        service: { port: 80, targetPort: 9898 },
        ...SKIPPER_SPEC,
        analysis: { interval: '2s', threshold: 2, stepWeight: 20, maxWeight: 60, match: AB_MATCH },
      },
    });
    const message = await expectWarningEvent(namespace, /spec\.analysis\.match/);
    // Refused before the router runs, for every router (the skipper router would refuse it too).
    expect(message).toMatch(/spec\.analysis\.match: A\/B testing \(match\) needs iterations/);
    expect(await phaseOf(client, namespace)).toBe('');
    expect(await client.get(RESOURCES.ingresses, namespace, 'podinfo-canary')).toBeUndefined();
  }, 300_000);

  it("given a Deployment scaled by a KEDA ScaledObject (KEDA's own CRD), when the controller initializes, analyses and promotes it, then podinfo-primary's ScaledObject scales the primary, the target's is paused whenever the target is at zero and resumed during the analysis, and changes to it reach the primary's at promotion only", async () => {
    const namespace = 'ctl-keda';
    const PAUSED = 'autoscaling.keda.sh/paused-replicas';
    const scaledObject = (name: string) => client.get<ScaledObject>(RESOURCES.scaledObjects, namespace, name);
    const keda: RolloutCase = {
      ...routerCase(ROUTERS[0]!, namespace),
      spec: { autoscalerRef: { apiVersion: 'keda.sh/v1alpha1', kind: 'ScaledObject', name: 'podinfo' } },
      before: async () => {
        await client.apply(RESOURCES.scaledObjects, {
          metadata: { name: 'podinfo', namespace },
          spec: {
            scaleTargetRef: { name: 'podinfo' },
            minReplicaCount: 1,
            maxReplicaCount: 4,
            triggers: [
              {
                type: 'prometheus',
                name: 'rps',
                metadata: {
                  serverAddress: 'http://prometheus.monitoring:9090',
                  query: 'sum(rate(http_requests_total{deployment="podinfo"}[1m]))',
                  threshold: '10',
                },
              },
            ],
          },
        });
      },
    };
    await givenInitializedCanary(world, keda);
    const primary = (await scaledObject('podinfo-primary'))!;
    expect(primary.spec).toMatchObject({
      scaleTargetRef: { name: 'podinfo-primary' },
      minReplicaCount: 1,
      maxReplicaCount: 4,
    });
    expect(primary.spec.triggers[0]?.metadata).toMatchObject({
      query: 'sum(rate(http_requests_total{deployment="podinfo-primary"}[1m]))',
      threshold: '10',
    });
    expect(primary.metadata.ownerReferences).toEqual([
      expect.objectContaining({
        kind: 'Canary',
        name: 'podinfo',
        uid: await canaryUid(namespace),
        controller: true,
      }),
    ]);
    expect((await scaledObject('podinfo'))?.metadata.annotations?.[PAUSED]).toBe('0');

    // The user raises the limits and the threshold, then ships a new image.
    await client.mergePatch(RESOURCES.scaledObjects, namespace, 'podinfo', {
      spec: {
        maxReplicaCount: 6,
        triggers: [
          {
            type: 'prometheus',
            name: 'rps',
            metadata: {
              serverAddress: 'http://prometheus.monitoring:9090',
              query: 'sum(rate(http_requests_total{deployment="podinfo"}[1m]))',
              threshold: '20',
            },
          },
        ],
      },
    });
    const samples: { phase: string; paused: string | undefined; primaryMax: number | undefined }[] = [];
    const weights = await rollOut(
      world,
      {
        ...keda,
        canaryWeight: async () => {
          const weight = await keda.canaryWeight();
          if ((weight ?? 0) > 0) {
            samples.push({
              phase: await phaseOf(client, namespace),
              paused: (await scaledObject('podinfo'))?.metadata.annotations?.[PAUSED],
              primaryMax: (await scaledObject('podinfo-primary'))?.spec.maxReplicaCount,
            });
          }
          return weight;
        },
      },
      NEXT,
      ['Succeeded'],
    );
    expect(weights.filter((weight) => weight !== 0)).toEqual([20, 40, 60]);
    // KEDA scales the canary while it is analysed; the primary keeps what it was last promoted
    // with until the promotion copies the target's ScaledObject.
    const analysed = samples.filter(({ phase }) => phase === 'Progressing');
    expect(analysed.length, JSON.stringify(samples)).toBeGreaterThan(0);
    expect(analysed, JSON.stringify(samples)).toEqual(
      analysed.map((sample) => ({ ...sample, paused: undefined, primaryMax: 4 })),
    );

    const promoted = (await scaledObject('podinfo-primary'))!;
    expect(promoted.spec.maxReplicaCount).toBe(6);
    expect(promoted.spec.triggers[0]?.metadata).toMatchObject({
      query: 'sum(rate(http_requests_total{deployment="podinfo-primary"}[1m]))',
      threshold: '20',
    });
    expect(await primaryImage(client, namespace)).toBe(NEXT);
    // The target is back at zero, and its ScaledObject paused with it.
    await eventually(
      () => scaledObject('podinfo'),
      (target) => target?.metadata.annotations?.[PAUSED] === '0',
      60_000,
      'ScaledObject podinfo paused after promotion',
    );
  }, 900_000);
});
