/**
 * The istio router (docs/routers/istio.md) on a real kube-apiserver with Istio's own CRDs
 * (istio.io/api, pinned in tools/mesh-crds/modules.tsv): every DestinationRule and VirtualService
 * it writes is validated by Istio's schema, and a second reconcile sending no write proves the
 * server kept every field as written (a pruned field would show up as drift). Envoy cannot run
 * here, so the data-plane semantics are tested as far as the objects go.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../../src/platforms/kubernetes/options.js';
import { DirectReader } from '../../src/platforms/kubernetes/reader.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import { createRouter } from '../../src/platforms/kubernetes/routers/factory.js';
import { istioResources } from '../../src/platforms/kubernetes/routers/istio.js';
import {
  ORIGINAL_CONFIGURATION,
  type DestinationRule,
  type VirtualService,
} from '../../src/platforms/kubernetes/routers/istio-spec.js';
import type { Router, RouterDeps, Routes } from '../../src/platforms/kubernetes/routers/router.js';
import type { Service } from '../../src/platforms/kubernetes/routers/types.js';
import { canary as canaryFixture, podinfoDeployment } from '../support/canary-fixtures.js';
import { startControllerProcess, type ControllerProcess } from '../support/controller-process.js';
import { CRDS, ensureNamespace, eventually, startKubeTest, type KubeTest } from '../support/kube.js';
import { installMeshCrds } from '../support/mesh-crds.js';
import { startMeshExporter, type MeshExporter } from '../support/mesh-exporter.js';
import { startPrometheus, type TestPrometheus } from '../support/prometheus.js';
import { startRecordingServer, type RecordingServer } from '../support/recording-server.js';

let kube: KubeTest;
let client: KubeClient;
let deps: RouterDeps;
const V1 = istioResources('v1');

beforeAll(async () => {
  kube = await startKubeTest();
  client = kube.client;
  await installMeshCrds(client, 'istio');
  deps = { client, reader: new DirectReader(client), options: DEFAULT_PLATFORM_OPTIONS };
}, 600_000);

afterAll(async () => {
  await kube?.stop();
}, 60_000);

const at = (primaryWeight: number, canaryWeight: number, mirrored = false): Routes => ({
  primaryWeight,
  canaryWeight,
  mirrored,
});

async function givenDeployment(namespace: string): Promise<void> {
  await ensureNamespace(client, namespace);
  await client.apply(RESOURCES.deployments, {
    metadata: { name: 'podinfo', namespace },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'podinfo' } },
      template: {
        metadata: { labels: { app: 'podinfo' } },
        spec: {
          containers: [
            {
              name: 'podinfod',
              image: 'ghcr.io/stefanprodan/podinfo:6.0.0',
              ports: [
                { name: 'http', containerPort: 9898 },
                { name: 'grpc', containerPort: 9999 },
              ],
            },
          ],
        },
      },
    },
  });
}

/** A Canary applied (so Vireo's CRD validates it too) and read back with its uid. */
async function givenCanary(namespace: string, spec: Record<string, unknown>): Promise<Canary> {
  await givenDeployment(namespace);
  const applied = await client.apply(RESOURCES.canaries, {
    metadata: { name: 'podinfo', namespace },
    spec: {
      provider: 'istio',
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      analysis: { interval: '10s', threshold: 2, stepWeight: 10, maxWeight: 50 },
      ...spec,
    },
  });
  return applied as unknown as Canary;
}

const readVs = async (namespace: string, name = 'podinfo'): Promise<VirtualService> =>
  (await client.get<VirtualService>(V1.virtualServices, namespace, name))!;
const readDr = async (namespace: string, name: string): Promise<DestinationRule | undefined> =>
  client.get<DestinationRule>(V1.destinationRules, namespace, name);

async function writesDuring(action: () => Promise<void>): Promise<number> {
  const writes = (): number => {
    const counts = client.counter.snapshot();
    return (counts['create'] ?? 0) + (counts['update'] ?? 0) + (counts['patch'] ?? 0);
  };
  const before = writes();
  await action();
  return writes() - before;
}

/** Reconciles, then proves a second reconcile finds nothing to change (nothing was pruned or defaulted). */
async function reconcileSettled(router: Router, canary: Canary): Promise<void> {
  await router.reconcile(canary);
  expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
}

/** The API versions the object's writers used (the server records them in managedFields). */
const writtenVersions = (object: { metadata: object }): string[] => [
  ...new Set(
    ((object.metadata as { managedFields?: { apiVersion: string }[] }).managedFields ?? []).map(
      (entry) => entry.apiVersion,
    ),
  ),
];

const FLUX_HANDS_OFF = {
  'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
  'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
};

describe('initialization and weights', () => {
  const namespace = 'istio-canary';
  let canary: Canary;
  const router = (): Router => createRouter('istio', deps);

  beforeAll(async () => {
    canary = await givenCanary(namespace, {
      service: {
        port: 9898,
        trafficPolicy: {
          tls: { mode: 'ISTIO_MUTUAL' },
          connectionPool: { http: { http1MaxPendingRequests: 100 } },
        },
        apex: { labels: { team: 'web' }, annotations: { 'example.com/owner': 'web' } },
      },
    });
  });

  it('given a Canary on istio, when the router reconciles, then the three Services, both DestinationRules and the VirtualService (100/0) exist, at v1, owned by the Canary', async () => {
    await reconcileSettled(router(), canary);
    const services = await client.list<Service>(RESOURCES.services, namespace);
    expect(services.items.map((service) => service.metadata.name).sort()).toEqual([
      'podinfo',
      'podinfo-canary',
      'podinfo-primary',
    ]);
    for (const name of ['podinfo-primary', 'podinfo-canary']) {
      const rule = (await readDr(namespace, name))!;
      expect(rule.spec).toEqual({
        host: name,
        trafficPolicy: {
          tls: { mode: 'ISTIO_MUTUAL' },
          connectionPool: { http: { http1MaxPendingRequests: 100 } },
        },
      });
      expect(rule.metadata.annotations).toEqual(FLUX_HANDS_OFF);
      expect(rule.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'Canary', name: 'podinfo', controller: true }),
      ]);
    }
    const vs = await readVs(namespace);
    // Written at v1: the cluster serves it (istio.io/api v1.32.0 serves v1, v1beta1, v1alpha3).
    expect(writtenVersions(vs)).toEqual(['networking.istio.io/v1']);
    expect(vs.metadata.labels).toEqual({ team: 'web' });
    expect(vs.metadata.annotations).toEqual({ 'example.com/owner': 'web', ...FLUX_HANDS_OFF });
    expect(vs.spec).toEqual({
      hosts: ['podinfo'],
      gateways: ['mesh'],
      http: [
        {
          route: [
            { destination: { host: 'podinfo-primary' }, weight: 100 },
            { destination: { host: 'podinfo-canary' }, weight: 0 },
          ],
        },
      ],
    });
    expect(await router().getRoutes(canary)).toEqual(at(100, 0));
  });

  it('given the objects in place, when routing 80/20, then the VirtualService says so, getRoutes reads it back, and repeating writes nothing', async () => {
    await router().setRoutes(canary, at(80, 20));
    expect((await readVs(namespace)).spec?.http?.[0]?.route?.map((entry) => entry.weight)).toEqual([80, 20]);
    expect(await router().getRoutes(canary)).toEqual(at(80, 20));
    expect(await writesDuring(() => router().setRoutes(canary, at(80, 20)))).toBe(0);
  });

  it('given an analysis at 80/20, when the Canary gains a timeout and the user adds a label, then reconcile writes the timeout and keeps the weights and the label', async () => {
    await client.mergePatch(V1.virtualServices, namespace, 'podinfo', {
      metadata: { labels: { extra: 'kept' } },
    });
    const changed = {
      ...canary,
      spec: { ...canary.spec, service: { ...canary.spec.service!, timeout: '15s' } },
    };
    await reconcileSettled(router(), changed);
    const vs = await readVs(namespace);
    expect(vs.spec?.http?.[0]?.timeout).toBe('15s');
    expect(vs.spec?.http?.[0]?.route?.map((entry) => entry.weight)).toEqual([80, 20]);
    expect(vs.metadata.labels).toEqual({ team: 'web', extra: 'kept' });
    // Vireo made it: nothing to save for revertOnDeletion.
    expect(vs.metadata.annotations?.[ORIGINAL_CONFIGURATION]).toBeUndefined();
  });

  it('given a drifted DestinationRule, when reconciling, then its traffic policy is put back', async () => {
    await client.mergePatch(V1.destinationRules, namespace, 'podinfo-canary', {
      spec: { trafficPolicy: { tls: { mode: 'DISABLE' } } },
    });
    await router().reconcile(canary);
    expect((await readDr(namespace, 'podinfo-canary'))?.spec?.trafficPolicy).toMatchObject({
      tls: { mode: 'ISTIO_MUTUAL' },
    });
  });

  it('given a rollback, when routing 100/0, then the VirtualService sends everything to the primary', async () => {
    await router().setRoutes(canary, at(100, 0));
    expect(await router().getRoutes(canary)).toEqual(at(100, 0));
  });
});

describe('every VirtualService field the Canary sets passes Istio’s schema', () => {
  it('given hosts, gateways, match, rewrite, timeout, retries, CORS, headers and portDiscovery behind a gateway, when reconciling and routing, then the server keeps them all', async () => {
    const namespace = 'istio-fields';
    const canary = await givenCanary(namespace, {
      service: {
        port: 9898,
        portDiscovery: true,
        hosts: ['app.example.com'],
        gateways: ['istio-system/public-gateway', 'mesh'],
        match: [{ uri: { prefix: '/api' } }, { uri: { regex: '^/v[0-9]+/' }, method: { exact: 'GET' } }],
        rewrite: { uri: '/', authority: 'podinfo.internal', type: 'ReplacePrefixMatch' },
        timeout: '30s',
        retries: {
          attempts: 3,
          perTryTimeout: '1s',
          retryOn: 'gateway-error,connect-failure,refused-stream',
        },
        corsPolicy: {
          allowOrigins: [{ exact: 'https://example.com' }, { regex: 'https://.*\\.example\\.org' }],
          allowMethods: ['GET', 'POST'],
          allowHeaders: ['x-requested-with'],
          exposeHeaders: ['x-request-id'],
          maxAge: '24h',
          allowCredentials: true,
        },
        headers: {
          request: { add: { 'x-via': 'vireo' }, set: { 'x-env': 'test' }, remove: ['x-debug'] },
          response: { remove: ['x-powered-by'] },
        },
      },
    });
    const router = createRouter('istio', deps);
    await reconcileSettled(router, canary);
    await router.setRoutes(canary, at(70, 30));
    const vs = await readVs(namespace);
    expect(vs.spec?.hosts).toEqual(['app.example.com', 'podinfo']);
    expect(vs.spec?.gateways).toEqual(['istio-system/public-gateway', 'mesh']);
    const route = vs.spec?.http?.[0];
    expect(route).toMatchObject({
      match: canary.spec.service?.match,
      rewrite: { uri: '/', authority: 'podinfo.internal' },
      timeout: '30s',
      retries: canary.spec.service?.retries,
      corsPolicy: canary.spec.service?.corsPolicy,
      headers: canary.spec.service?.headers,
    });
    // portDiscovery behind a gateway: the Services have several ports, so the destinations name one.
    expect(route?.route).toEqual([
      { destination: { host: 'podinfo-primary', port: { number: 9898 } }, weight: 70 },
      { destination: { host: 'podinfo-canary', port: { number: 9898 } }, weight: 30 },
    ]);
  });

  it('given appProtocol tcp, when routing, then the VirtualService routes TCP on the port', async () => {
    const namespace = 'istio-tcp';
    const canary = await givenCanary(namespace, {
      service: { port: 6379, appProtocol: 'tcp', portName: 'tcp' },
    });
    const router = createRouter('istio', deps);
    await reconcileSettled(router, canary);
    await router.setRoutes(canary, at(90, 10));
    const vs = await readVs(namespace);
    expect(vs.spec?.http).toBeUndefined();
    expect(vs.spec?.tcp).toEqual([
      {
        match: [{ port: 6379 }],
        route: [
          { destination: { host: 'podinfo-primary' }, weight: 90 },
          { destination: { host: 'podinfo-canary' }, weight: 10 },
        ],
      },
    ]);
    expect(await router.getRoutes(canary)).toEqual(at(90, 10));
  });

  it('given gRPC (portName grpc, appProtocol grpc), when reconciling, then the Services carry the protocol and the VirtualService routes it as HTTP', async () => {
    const namespace = 'istio-grpc';
    const canary = await givenCanary(namespace, {
      service: {
        port: 9999,
        portName: 'grpc',
        appProtocol: 'grpc',
        retries: { attempts: 2, retryOn: 'unavailable,cancelled' },
      },
    });
    const router = createRouter('istio', deps);
    await reconcileSettled(router, canary);
    const primary = (await client.get<Service>(RESOURCES.services, namespace, 'podinfo-primary'))!;
    expect(primary.spec?.ports?.[0]).toMatchObject({ name: 'grpc', port: 9999, appProtocol: 'grpc' });
    expect((await readVs(namespace)).spec?.http?.[0]?.retries).toEqual({
      attempts: 2,
      retryOn: 'unavailable,cancelled',
    });
  });

  it('given delegation, when reconciling, then the delegate VirtualService has neither hosts nor gateways', async () => {
    const namespace = 'istio-delegate';
    const canary = await givenCanary(namespace, { service: { port: 9898, delegation: true } });
    const router = createRouter('istio', deps);
    await reconcileSettled(router, canary);
    await router.setRoutes(canary, at(50, 50));
    const vs = await readVs(namespace);
    expect(vs.spec?.hosts).toBeUndefined();
    expect(vs.spec?.gateways).toBeUndefined();
    expect(await router.getRoutes(canary)).toEqual(at(50, 50));
  });
});

describe('A/B testing', () => {
  it('given header, cookie and sourceLabels conditions with service.match, when routing to the canary and back, then the matching route splits and the rest goes to the primary', async () => {
    const namespace = 'istio-ab';
    const canary = await givenCanary(namespace, {
      service: { port: 9898, match: [{ uri: { prefix: '/' } }] },
      analysis: {
        interval: '10s',
        threshold: 2,
        iterations: 5,
        match: [
          { headers: { 'x-canary': { exact: 'insider' } } },
          { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
          { sourceLabels: { app: 'frontend' } },
        ],
      },
    });
    const router = createRouter('istio', deps);
    await reconcileSettled(router, canary);
    await router.setRoutes(canary, at(0, 100));
    const http = (await readVs(namespace)).spec?.http;
    expect(http?.[0]?.match).toEqual([
      { uri: { prefix: '/' }, headers: { 'x-canary': { exact: 'insider' } } },
      { uri: { prefix: '/' }, headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
      { uri: { prefix: '/' }, sourceLabels: { app: 'frontend' } },
    ]);
    expect(http?.[0]?.route?.map((entry) => entry.weight)).toEqual([0, 100]);
    expect(http?.[1]).toEqual({
      match: [{ uri: { prefix: '/' } }],
      route: [{ destination: { host: 'podinfo-primary' }, weight: 100 }],
    });
    expect(await router.getRoutes(canary)).toEqual(at(0, 100));
    // A reconcile in the middle of the iterations keeps the split.
    expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
    await router.setRoutes(canary, at(100, 0));
    expect(await router.getRoutes(canary)).toEqual(at(100, 0));
  });
});

describe('mirroring', () => {
  it('given the canary strategy with mirror and mirrorWeight, when the first step mirrors and the next shifts, then mirror and mirrorPercentage come and go', async () => {
    const namespace = 'istio-mirror';
    const canary = await givenCanary(namespace, {
      service: { port: 9898 },
      analysis: {
        interval: '10s',
        threshold: 2,
        stepWeight: 20,
        maxWeight: 60,
        mirror: true,
        mirrorWeight: 50,
      },
    });
    const router = createRouter('istio', deps);
    await reconcileSettled(router, canary);
    await router.setRoutes(canary, at(100, 0, true));
    const mirrored = (await readVs(namespace)).spec?.http?.[0];
    expect(mirrored?.mirror).toEqual({ host: 'podinfo-canary' });
    expect(mirrored?.mirrorPercentage).toEqual({ value: 50 });
    expect(await router.getRoutes(canary)).toEqual(at(100, 0, true));
    // A reconcile while mirroring keeps the mirror.
    expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
    await router.setRoutes(canary, at(80, 20));
    const shifted = (await readVs(namespace)).spec?.http?.[0];
    expect(shifted?.mirror).toBeUndefined();
    expect(shifted?.mirrorPercentage).toBeUndefined();
    expect(await router.getRoutes(canary)).toEqual(at(80, 20));
  });

  it('given blue/green with mirror, when iterating mirrored then switching, then the mirror covers the iterations and goes with the switch', async () => {
    const namespace = 'istio-bg-mirror';
    const canary = await givenCanary(namespace, {
      service: { port: 9898 },
      analysis: { interval: '10s', threshold: 2, iterations: 3, mirror: true },
    });
    const router = createRouter('istio', deps);
    await reconcileSettled(router, canary);
    await router.setRoutes(canary, at(100, 0, true));
    expect((await readVs(namespace)).spec?.http?.[0]).toMatchObject({ mirror: { host: 'podinfo-canary' } });
    expect((await readVs(namespace)).spec?.http?.[0]?.mirrorPercentage).toBeUndefined();
    await router.setRoutes(canary, at(0, 100));
    expect((await readVs(namespace)).spec?.http?.[0]?.mirror).toBeUndefined();
    expect(await router.getRoutes(canary)).toEqual(at(0, 100));
  });
});

describe('session affinity', () => {
  it('given sessionAffinity with a primary cookie, when the canary takes 20 % and then goes back to 0, then the cookie routes and Set-Cookie headers are written, kept by reconcile, and the cookie is expired afterwards', async () => {
    const namespace = 'istio-affinity';
    const affinity = {
      cookieName: 'flagger-cookie',
      primaryCookieName: 'flagger-primary-cookie',
      maxAge: 7200,
      path: '/',
      sameSite: 'Strict',
      secure: true,
      httpOnly: true,
    };
    const applied = await givenCanary(namespace, {
      service: { port: 9898 },
      analysis: { interval: '10s', threshold: 2, stepWeight: 20, maxWeight: 60, sessionAffinity: affinity },
    });
    const router = createRouter('istio', deps);
    await reconcileSettled(router, applied);
    const cookies = { canary: 'flagger-cookie=AbCdEfGhIj', primary: 'flagger-primary-cookie=KlMnOpQrSt' };
    // The engine keeps the cookies in status; reconcile reads them from there.
    const running: Canary = {
      ...applied,
      status: { sessionAffinityCookie: cookies.canary, primarySessionAffinityCookie: cookies.primary },
    };
    await router.setRoutes(running, at(80, 20), cookies);
    const http = (await readVs(namespace)).spec?.http ?? [];
    expect(http.map((route) => route.name ?? 'weighted')).toEqual([
      'canary-affinity',
      'primary-affinity',
      'weighted',
    ]);
    expect(http[0]).toMatchObject({
      match: [{ headers: { cookie: { regex: '.*flagger-cookie=AbCdEfGhIj.*' } } }],
      route: [{ destination: { host: 'podinfo-canary' }, weight: 100 }],
    });
    expect(http[1]).toMatchObject({
      match: [{ headers: { cookie: { regex: '.*flagger-primary-cookie=KlMnOpQrSt.*' } } }],
      route: [{ destination: { host: 'podinfo-primary' }, weight: 100 }],
    });
    expect(http[2]?.route).toEqual([
      {
        destination: { host: 'podinfo-primary' },
        weight: 80,
        headers: {
          response: {
            add: {
              'Set-Cookie': `${cookies.primary}; Max-Age=10; HttpOnly; Path=/; SameSite=Strict; Secure`,
            },
          },
        },
      },
      {
        destination: { host: 'podinfo-canary' },
        weight: 20,
        headers: {
          response: {
            add: {
              'Set-Cookie': `${cookies.canary}; Max-Age=7200; HttpOnly; Path=/; SameSite=Strict; Secure`,
            },
          },
        },
      },
    ]);
    expect(await router.getRoutes(running)).toEqual(at(80, 20));
    expect(await writesDuring(() => router.reconcile(running))).toBe(0);

    const promoted: Canary = {
      ...applied,
      status: {
        primarySessionAffinityCookie: cookies.primary,
        previousSessionAffinityCookie: cookies.canary,
      },
    };
    await router.setRoutes(promoted, at(100, 0), { primary: cookies.primary, previous: cookies.canary });
    const after = (await readVs(namespace)).spec?.http ?? [];
    expect(after.map((route) => route.name ?? 'weighted')).toEqual(['expired-affinity', 'weighted']);
    expect(after[0]?.route?.[0]?.headers).toEqual({
      response: {
        add: { 'Set-Cookie': `${cookies.canary}; Max-Age=-1; HttpOnly; Path=/; SameSite=Strict; Secure` },
      },
    });
    expect(await router.getRoutes(promoted)).toEqual(at(100, 0));
    expect(await writesDuring(() => router.reconcile(promoted))).toBe(0);
  });
});

describe('an adopted VirtualService and revertOnDeletion', () => {
  const userSpec = {
    hosts: ['podinfo'],
    http: [{ route: [{ destination: { host: 'podinfo' } }], timeout: '3s' }],
  };

  it('given a VirtualService the user created without kubectl, when reconciling, then its spec is saved once and it is put back on finalize', async () => {
    const namespace = 'istio-adopt';
    await ensureNamespace(client, namespace);
    await client.create(V1.virtualServices, {
      metadata: { name: 'podinfo', namespace, labels: { owner: 'user' } },
      spec: userSpec,
    });
    const canary = await givenCanary(namespace, { revertOnDeletion: true, service: { port: 9898 } });
    const router = createRouter('istio', deps);
    await router.reconcile(canary);
    await router.setRoutes(canary, at(60, 40));
    const adopted = await readVs(namespace);
    expect(JSON.parse(adopted.metadata.annotations?.[ORIGINAL_CONFIGURATION] ?? '{}')).toEqual(userSpec);
    expect(adopted.metadata.labels).toEqual({ owner: 'user' });
    expect(adopted.metadata.ownerReferences).toBeUndefined();
    expect(await router.getRoutes(canary)).toEqual(at(60, 40));
    // A later drift does not overwrite the saved original with Vireo's own spec.
    await router.reconcile({ ...canary, spec: { ...canary.spec, service: { port: 9898, timeout: '9s' } } });
    expect(
      JSON.parse((await readVs(namespace)).metadata.annotations?.[ORIGINAL_CONFIGURATION] ?? '{}'),
    ).toEqual(userSpec);

    await router.finalize(canary);
    const restored = await readVs(namespace);
    expect(restored.spec).toEqual(userSpec);
    expect(restored.metadata.annotations?.[ORIGINAL_CONFIGURATION]).toBeUndefined();
    expect(await writesDuring(() => router.finalize(canary))).toBe(0);
  });

  it('given a VirtualService applied with kubectl, when finalizing, then the spec comes back from kubectl’s record and nothing else is saved', async () => {
    const namespace = 'istio-adopt-kubectl';
    await ensureNamespace(client, namespace);
    const manifest = {
      apiVersion: 'networking.istio.io/v1',
      kind: 'VirtualService',
      metadata: { name: 'podinfo', namespace },
      spec: userSpec,
    };
    await client.create(V1.virtualServices, {
      ...manifest,
      metadata: {
        ...manifest.metadata,
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(manifest) },
      },
    });
    const canary = await givenCanary(namespace, { revertOnDeletion: true, service: { port: 9898 } });
    const router = createRouter('istio', deps);
    await router.reconcile(canary);
    expect((await readVs(namespace)).metadata.annotations?.[ORIGINAL_CONFIGURATION]).toBeUndefined();
    expect((await readVs(namespace)).spec?.http?.[0]?.route?.[0]?.destination.host).toBe('podinfo-primary');
    await router.finalize(canary);
    expect((await readVs(namespace)).spec).toEqual(userSpec);
  });
});

describe('vireo controller (the built binary) with the istio router', () => {
  let controller: ControllerProcess;
  let exporter: MeshExporter;
  let prometheus: TestPrometheus;
  let slack: RecordingServer;

  type LiveCanary = KubeObject & { status?: { phase?: string; canaryWeight?: number } };
  type Deployment = KubeObject & {
    spec: { replicas?: number; template: { spec: { containers: { image: string }[] } } };
  };

  beforeAll(async () => {
    [exporter, slack] = await Promise.all([startMeshExporter(), startRecordingServer()]);
    prometheus = await startPrometheus({ targets: [exporter.target] });
    await prometheus.waitForScrapes(2);
    controller = await startControllerProcess(kube.cluster.kubeconfigPath, [
      '--metrics-server',
      prometheus.url,
    ]);
  }, 240_000);

  afterAll(async () => {
    if (controller !== undefined) {
      const code = await controller.stop('SIGTERM');
      if (code !== 0) console.error(`controller exited ${code}:\n${controller.tail()}`);
    }
    await Promise.allSettled([prometheus?.stop(), exporter?.close(), slack?.close()]);
  }, 60_000);

  const phaseOf = async (namespace: string): Promise<string> =>
    (await client.get<LiveCanary>(RESOURCES.canaries, namespace, 'podinfo'))?.status?.phase ?? '';

  async function waitForPhase(namespace: string, phases: string[], timeoutMs = 120_000): Promise<LiveCanary> {
    try {
      return (await eventually(
        () => client.get<LiveCanary>(RESOURCES.canaries, namespace, 'podinfo'),
        (current) => phases.includes(current?.status?.phase ?? ''),
        timeoutMs,
        `canary podinfo.${namespace} in ${phases.join('|')}`,
      ))!;
    } catch (error) {
      console.error(controller.tail(80));
      throw error;
    }
  }

  async function setImage(namespace: string, image: string): Promise<void> {
    const current = (await client.get<Deployment>(RESOURCES.deployments, namespace, 'podinfo'))!;
    const containers = current.spec.template.spec.containers.map((container) => ({ ...container, image }));
    await client.mergePatch(RESOURCES.deployments, namespace, 'podinfo', {
      spec: { template: { spec: { containers } } },
    });
  }

  /** The VirtualService's canary weight, sampled until `done`: every distinct value in order. */
  async function observeCanaryWeights(namespace: string, done: () => Promise<boolean>): Promise<number[]> {
    const seen: number[] = [];
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const vs = await client.get<VirtualService>(V1.virtualServices, namespace, 'podinfo');
      const weight = vs?.spec?.http?.[0]?.route?.[1]?.weight;
      if (weight !== undefined && seen.at(-1) !== weight) seen.push(weight);
      if (await done()) return seen;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(`observation timed out; seen ${JSON.stringify(seen)}\n${controller.tail(40)}`);
  }

  /** podinfo's Canary with `spec.provider: istio`, or none (`undefined`): the controller's default, istio. */
  function istioCanary(
    namespace: string,
    analysis: Record<string, unknown>,
    provider: 'istio' | undefined = 'istio',
  ): KubeObject {
    const object = canaryFixture({ namespace, provider: 'kubernetes', analysis });
    const spec = { ...(object['spec'] as Record<string, unknown>) };
    delete spec['provider'];
    return { ...object, spec: provider === undefined ? spec : { ...spec, provider } };
  }

  it('given a Deployment and a Canary without spec.provider on a controller without --mesh-provider (istio, the default), when the controller initializes it, then both DestinationRules, the VirtualService at 100/0 and the three Services exist; when the image changes, then the VirtualService weights step up at every step and the canary is promoted', async () => {
    const namespace = 'istio-e2e';
    await ensureNamespace(client, namespace);
    await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
    await client.apply(
      RESOURCES.canaries,
      istioCanary(namespace, { interval: '2s', threshold: 2, stepWeight: 20, maxWeight: 60 }, undefined),
    );
    await waitForPhase(namespace, ['Initialized']);
    expect(await readDr(namespace, 'podinfo-primary')).toBeDefined();
    expect(await readDr(namespace, 'podinfo-canary')).toBeDefined();
    expect((await readVs(namespace)).spec?.http?.[0]?.route?.map((entry) => entry.weight)).toEqual([100, 0]);
    const services = await client.list<Service>(RESOURCES.services, namespace);
    expect(services.items.map((service) => service.metadata.name).sort()).toEqual([
      'podinfo',
      'podinfo-canary',
      'podinfo-primary',
    ]);

    await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
    const weights = await observeCanaryWeights(
      namespace,
      async () => (await phaseOf(namespace)) === 'Succeeded',
    );
    expect(weights.filter((weight) => weight !== 0)).toEqual([20, 40, 60]);
    expect(weights.at(-1)).toBe(0);
    const primary = (await client.get<Deployment>(RESOURCES.deployments, namespace, 'podinfo-primary'))!;
    expect(primary.spec.template.spec.containers[0]?.image).toBe('ghcr.io/stefanprodan/podinfo:6.0.1');
  }, 300_000);

  it('given an istio Canary with service.delegation, when the controller runs it, then the delegate VirtualService has neither hosts nor gateways and its weights step up to promotion', async () => {
    const namespace = 'istio-e2e-delegation';
    await ensureNamespace(client, namespace);
    await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
    const object = istioCanary(namespace, { interval: '2s', threshold: 2, stepWeight: 25, maxWeight: 50 });
    const spec = object['spec'] as Record<string, unknown>;
    await client.apply(RESOURCES.canaries, {
      ...object,
      spec: { ...spec, service: { ...(spec['service'] as object), delegation: true } },
    });
    await waitForPhase(namespace, ['Initialized']);
    const delegate = await readVs(namespace);
    expect(delegate.spec?.hosts ?? []).toEqual([]);
    expect(delegate.spec?.gateways ?? []).toEqual([]);
    expect(delegate.spec?.http?.[0]?.route?.map((entry) => entry.weight)).toEqual([100, 0]);

    await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
    const weights = await observeCanaryWeights(
      namespace,
      async () => (await phaseOf(namespace)) === 'Succeeded',
    );
    expect(weights.filter((weight) => weight !== 0)).toEqual([25, 50]);
    const after = await readVs(namespace);
    expect(after.spec?.hosts ?? []).toEqual([]);
    expect(after.spec?.gateways ?? []).toEqual([]);
  }, 300_000);

  it('given an istio Canary with mirror and mirrorWeight (seed 002), when the image changes, then the first step only mirrors, and the mirror goes when the weights start', async () => {
    const namespace = 'istio-e2e-mirror';
    await ensureNamespace(client, namespace);
    await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
    await client.apply(
      RESOURCES.canaries,
      istioCanary(namespace, {
        interval: '2s',
        threshold: 2,
        stepWeight: 20,
        maxWeight: 40,
        mirror: true,
        mirrorWeight: 50,
      }),
    );
    await waitForPhase(namespace, ['Initialized']);
    await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
    const seen: string[] = [];
    const deadline = Date.now() + 180_000;
    while ((await phaseOf(namespace)) !== 'Succeeded') {
      if (Date.now() > deadline)
        throw new Error(`not promoted; seen ${seen.join(', ')}\n${controller.tail(40)}`);
      const route = (await readVs(namespace)).spec?.http?.[0];
      const sample = `${route?.route?.[1]?.weight ?? '?'}${route?.mirror === undefined ? '' : `+mirror ${route.mirrorPercentage?.value ?? 100}%`}`;
      if (seen.at(-1) !== sample) seen.push(sample);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Weight 0 mirrored at 50 %, then 20 and 40 without the mirror, then back to the primary.
    expect(seen.filter((sample) => sample !== '0')).toEqual(['0+mirror 50%', '20', '40']);
  }, 300_000);

  it('given a VirtualService the user made and an istio Canary with revertOnDeletion, when the Canary is deleted, then the controller puts the user spec back', async () => {
    const namespace = 'istio-e2e-revert';
    await ensureNamespace(client, namespace);
    await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
    const userSpec = { hosts: ['podinfo'], http: [{ route: [{ destination: { host: 'podinfo' } }] }] };
    await client.create(V1.virtualServices, { metadata: { name: 'podinfo', namespace }, spec: userSpec });
    const object = istioCanary(namespace, { interval: '2s', threshold: 2, stepWeight: 20, maxWeight: 40 });
    await client.apply(RESOURCES.canaries, {
      ...object,
      spec: { ...(object['spec'] as object), revertOnDeletion: true },
    });
    await waitForPhase(namespace, ['Initialized']);
    const adopted = await readVs(namespace);
    expect(JSON.parse(adopted.metadata.annotations?.[ORIGINAL_CONFIGURATION] ?? '{}')).toEqual(userSpec);
    expect(adopted.spec?.http?.[0]?.route?.[0]?.destination.host).toBe('podinfo-primary');
    await client.delete(RESOURCES.canaries, namespace, 'podinfo');
    await eventually(
      () => client.get(RESOURCES.canaries, namespace, 'podinfo'),
      (gone) => gone === undefined,
      120_000,
      'the Canary deleted after its finalizer',
    );
    const restored = await readVs(namespace);
    expect(restored.spec).toEqual(userSpec);
    expect(restored.metadata.annotations?.[ORIGINAL_CONFIGURATION]).toBeUndefined();
  }, 300_000);

  it('given seed 001’s A/B canary by header and cookie with a confirm-promotion gate on the loadtester, when the image changes, then matching requests go to the canary, promotion waits for the gate and goes on once it is opened', async () => {
    const namespace = 'istio-e2e-ab';
    const repository = join(import.meta.dirname, '..', '..');
    const loadtester: ChildProcess = spawn(
      process.execPath,
      [
        join(repository, 'bin', 'vireo.js'),
        'loadtester',
        '--port=0',
        '--host=127.0.0.1',
        `--state-file=${join(mkdtempSync(join(tmpdir(), 'vireo-istio-gates-')), 'gates.json')}`,
      ],
      {
        cwd: repository,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, VIREO_LOADTESTER_TOKEN: '' },
      },
    );
    let output = '';
    loadtester.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    loadtester.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    try {
      const port = await eventually(
        () => Promise.resolve(/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(output)?.[1]),
        (found) => found !== undefined,
        60_000,
        'the loadtester listening',
      );
      const gates = `http://127.0.0.1:${port}`;
      await ensureNamespace(client, namespace);
      await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
      await client.apply(
        RESOURCES.canaries,
        istioCanary(namespace, {
          interval: '2s',
          threshold: 2,
          iterations: 3,
          match: [
            { headers: { 'x-canary': { exact: 'insider' } } },
            { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
          ],
          webhooks: [{ name: 'ask-for-promotion', type: 'confirm-promotion', url: `${gates}/gate/check` }],
        }),
      );
      await waitForPhase(namespace, ['Initialized']);
      await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
      await waitForPhase(namespace, ['WaitingPromotion']);
      const http = (await readVs(namespace)).spec?.http;
      expect(http?.[0]?.match).toEqual([
        { headers: { 'x-canary': { exact: 'insider' } } },
        { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
      ]);
      expect(http?.[0]?.route?.map((entry) => entry.weight)).toEqual([0, 100]);
      expect(http?.[1]?.route).toEqual([{ destination: { host: 'podinfo-primary' }, weight: 100 }]);
      // Held: three more analysis ticks ask the closed gate, and the canary still waits.
      const ticks = async (): Promise<number> => {
        const text = await (await fetch(`http://127.0.0.1:${controller.port}/metrics`)).text();
        const line = text
          .split('\n')
          .find((entry) =>
            entry.startsWith(
              `flagger_canary_duration_seconds_count{name="podinfo",namespace="${namespace}"}`,
            ),
          );
        return Number(line?.split(' ').at(-1) ?? '0');
      };
      const waitingFrom = await ticks();
      await eventually(ticks, (count) => count >= waitingFrom + 3, 60_000, 'three ticks at the closed gate');
      expect(await phaseOf(namespace)).toBe('WaitingPromotion');
      const opened = await fetch(`${gates}/gate/open`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'podinfo', namespace }),
      });
      expect(opened.status).toBe(202);
      await waitForPhase(namespace, ['Succeeded']);
      expect((await readVs(namespace)).spec?.http?.[0]?.route?.map((entry) => entry.weight)).toEqual([
        100, 0,
      ]);
      const primary = (await client.get<Deployment>(RESOURCES.deployments, namespace, 'podinfo-primary'))!;
      expect(primary.spec.template.spec.containers[0]?.image).toBe('ghcr.io/stefanprodan/podinfo:6.0.1');
    } finally {
      loadtester.kill('SIGTERM');
    }
  }, 300_000);

  it('given blue/green with mirror on Istio, when the image changes, then the iterations are mirrored at weight 0 and the switch sends everything to the canary before promotion', async () => {
    const namespace = 'istio-e2e-bg';
    await ensureNamespace(client, namespace);
    await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
    await client.apply(
      RESOURCES.canaries,
      istioCanary(namespace, { interval: '2s', threshold: 2, iterations: 3, mirror: true }),
    );
    await waitForPhase(namespace, ['Initialized']);
    await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
    const seen: string[] = [];
    const deadline = Date.now() + 180_000;
    while ((await phaseOf(namespace)) !== 'Succeeded') {
      if (Date.now() > deadline)
        throw new Error(`not promoted; seen ${seen.join(', ')}\n${controller.tail(40)}`);
      const route = (await readVs(namespace)).spec?.http?.[0];
      const sample = `${route?.route?.[1]?.weight ?? '?'}${route?.mirror === undefined ? '' : '+mirror'}`;
      if (seen.at(-1) !== sample) seen.push(sample);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(seen.filter((sample) => sample !== '0')).toEqual(['0+mirror', '100']);
  }, 300_000);

  it('given session affinity on Istio, when the canary takes traffic, then requests with the cookie in status stick to the canary and responses hand it out; after promotion the cookie is expired', async () => {
    const namespace = 'istio-e2e-affinity';
    await ensureNamespace(client, namespace);
    await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
    await client.apply(
      RESOURCES.canaries,
      istioCanary(namespace, {
        interval: '2s',
        threshold: 2,
        stepWeight: 20,
        maxWeight: 40,
        sessionAffinity: { cookieName: 'flagger-cookie', maxAge: 21600 },
      }),
    );
    await waitForPhase(namespace, ['Initialized']);
    await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
    type WithCookies = LiveCanary & {
      status?: { sessionAffinityCookie?: string; previousSessionAffinityCookie?: string };
    };
    const running = (await eventually(
      () => client.get<WithCookies>(RESOURCES.canaries, namespace, 'podinfo'),
      (current) => current?.status?.sessionAffinityCookie !== undefined,
      120_000,
      'a session-affinity cookie in status',
    ))!;
    const cookie = running.status!.sessionAffinityCookie!;
    expect(cookie).toMatch(/^flagger-cookie=[a-zA-Z]{10}$/);
    const sticky = await eventually(
      () => readVs(namespace),
      (vs) => vs.spec?.http?.[0]?.name === 'canary-affinity',
      60_000,
      'the canary-affinity route',
    );
    expect(sticky.spec?.http?.[0]?.match).toEqual([{ headers: { cookie: { regex: `.*${cookie}.*` } } }]);
    expect(sticky.spec?.http?.at(-1)?.route?.[1]?.headers).toEqual({
      response: { add: { 'Set-Cookie': `${cookie}; Max-Age=21600` } },
    });
    await waitForPhase(namespace, ['Succeeded']);
    const after = (await client.get<WithCookies>(RESOURCES.canaries, namespace, 'podinfo'))!;
    expect(after.status?.previousSessionAffinityCookie).toBe(cookie);
    const http = (await readVs(namespace)).spec?.http ?? [];
    expect(http.map((route) => route.name ?? 'weighted')).toEqual(['expired-affinity', 'weighted']);
    expect(http[0]?.route?.[0]?.headers).toEqual({
      response: { add: { 'Set-Cookie': `${cookie}; Max-Age=-1` } },
    });
  }, 300_000);

  it('given an istio Canary whose built-in success-rate check fails on a real Prometheus (Istio series at 95 %), when the image changes, then it rolls back to 100/0 and alerts Slack', async () => {
    // The mesh exporter serves istio_requests_total for destination_workload podinfo in namespace test.
    const namespace = 'test';
    await ensureNamespace(client, namespace);
    await client.create(RESOURCES.deployments, podinfoDeployment(namespace));
    await client.apply(RESOURCES.alertProviders, {
      metadata: { name: 'on-call', namespace },
      spec: { type: 'slack', channel: 'deploys', address: slack.url },
    });
    await client.apply(
      RESOURCES.canaries,
      istioCanary(namespace, {
        interval: '2s',
        threshold: 2,
        stepWeight: 20,
        maxWeight: 60,
        metrics: [{ name: 'request-success-rate', interval: '1m', thresholdRange: { min: 99 } }],
        alerts: [{ name: 'on-call', severity: 'info', providerRef: { name: 'on-call' } }],
      }),
    );
    await waitForPhase(namespace, ['Initialized']);
    await setImage(namespace, 'ghcr.io/stefanprodan/podinfo:6.0.1');
    const failed = await waitForPhase(namespace, ['Failed', 'Succeeded']);
    expect(failed.status?.phase).toBe('Failed');
    expect((await readVs(namespace)).spec?.http?.[0]?.route?.map((entry) => entry.weight)).toEqual([100, 0]);
    expect((await client.get<Deployment>(RESOURCES.deployments, namespace, 'podinfo'))?.spec.replicas).toBe(
      0,
    );
    await eventually(
      () => Promise.resolve(slack.requests.map((request) => request.body)),
      (bodies) => bodies.some((body) => body.includes('Failed checks threshold reached 2')),
      10_000,
      'the rollback alert on Slack',
    );
  }, 300_000);
});

describe('API versions', () => {
  it('given a cluster whose Istio CRDs no longer serve v1, when a new router reconciles, then it writes v1beta1', async () => {
    // Istio before 1.22 served v1beta1 and v1alpha3 only: switch v1 off (it stays the storage version).
    for (const plural of ['virtualservices', 'destinationrules']) {
      const name = `${plural}.networking.istio.io`;
      const crd = (await client.get<{
        metadata: { name: string };
        spec: { versions: { name: string; served: boolean }[] };
      }>(CRDS, undefined, name))!;
      await client.mergePatch(CRDS, undefined, name, {
        spec: {
          versions: crd.spec.versions.map((version) => ({ ...version, served: version.name !== 'v1' })),
        },
      });
    }
    const v1beta1 = istioResources('v1beta1');
    const namespace = 'istio-v1beta1';
    const canary = await givenCanary(namespace, { service: { port: 9898 } });
    // Discovery follows the CRD change a moment later.
    await eventually(
      () => client.servedResources('networking.istio.io', 'v1'),
      (names) => !names.includes('virtualservices') && !names.includes('destinationrules'),
      60_000,
      'v1 of VirtualService and DestinationRule no longer served',
    );
    const router = createRouter('istio', deps);
    await reconcileSettled(router, canary);
    const vs = (await client.get<VirtualService>(v1beta1.virtualServices, namespace, 'podinfo'))!;
    expect(writtenVersions(vs)).toEqual(['networking.istio.io/v1beta1']);
    await router.setRoutes(canary, at(90, 10));
    expect(await router.getRoutes(canary)).toEqual(at(90, 10));
  });
});
