/**
 * The generated Services (docs/flagger-compatibility.md#31-services) and the kubernetes and nginx routers (docs/flagger-compatibility.md#32-routers) on a real
 * kube-apiserver: what they create, what they leave alone, what they restore, and that a
 * reconcile with nothing to change sends no write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Canary } from '../../src/api/schema/canary.js';
import type { KubeClient, KubeObject } from '../../src/platforms/kubernetes/client.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../../src/platforms/kubernetes/options.js';
import { DirectReader } from '../../src/platforms/kubernetes/reader.js';
import { RESOURCES } from '../../src/platforms/kubernetes/resources.js';
import {
  createCanaryRouter,
  createRouter,
  RouterNotImplementedError,
} from '../../src/platforms/kubernetes/routers/factory.js';
import type { RouterDeps } from '../../src/platforms/kubernetes/routers/router.js';
import type { Ingress, Service } from '../../src/platforms/kubernetes/routers/types.js';
import { ensureNamespace, startKubeTest, type KubeTest } from '../support/kube.js';

let client: KubeClient;
let kube: KubeTest;
let deps: RouterDeps;

const NGINX = 'nginx.ingress.kubernetes.io';

beforeAll(async () => {
  kube = await startKubeTest();
  client = kube.client;
  deps = { client, reader: new DirectReader(client), options: DEFAULT_PLATFORM_OPTIONS };
}, 180_000);

afterAll(async () => {
  await kube?.stop();
}, 60_000);

/** podinfo with a metrics port and an Istio sidecar, as portDiscovery sees it. */
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
                { name: 'http-metrics', containerPort: 9797 },
                { containerPort: 9999 },
              ],
            },
            {
              name: 'istio-proxy',
              image: 'istio/proxyv2',
              ports: [{ name: 'http-envoy-prom', containerPort: 15090 }],
            },
          ],
        },
      },
    },
  });
}

/** A Canary applied and read back, so it has the uid its owner references need. */
async function givenCanary(namespace: string, spec: Record<string, unknown>): Promise<Canary> {
  await ensureNamespace(client, namespace);
  const applied = await client.apply(RESOURCES.canaries, {
    metadata: { name: 'podinfo', namespace },
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      analysis: { interval: '10s', threshold: 2, stepWeight: 10, maxWeight: 50 },
      ...spec,
    },
  });
  return applied as unknown as Canary;
}

const getService = async (namespace: string, name: string): Promise<Service> =>
  (await client.get<Service>(RESOURCES.services, namespace, name))!;
const getIngress = async (namespace: string, name: string): Promise<Ingress> =>
  (await client.get<Ingress>(RESOURCES.ingresses, namespace, name))!;

/** create, update and patch requests sent while `action` runs. */
async function writesDuring(action: () => Promise<void>): Promise<number> {
  const writes = (): number => {
    const counts = client.counter.snapshot();
    return (counts['create'] ?? 0) + (counts['update'] ?? 0) + (counts['patch'] ?? 0);
  };
  const before = writes();
  await action();
  return writes() - before;
}

describe('generated Services with the kubernetes router', () => {
  const namespace = 'routers-services';
  let canary: Canary;

  beforeAll(async () => {
    await givenDeployment(namespace);
    canary = await givenCanary(namespace, {
      provider: 'kubernetes',
      service: {
        port: 80,
        targetPort: 9898,
        portDiscovery: true,
        apex: { labels: { tier: 'web' }, annotations: { 'example.com/apex': 'yes' } },
        canary: { labels: { 'kustomize.toolkit.fluxcd.io/name': 'apps' } },
      },
    });
  });

  it('given a Deployment selected by app=podinfo, when the router reconciles, then apex, primary and canary Services select, label and belong as docs/flagger-compatibility.md#31-services says', async () => {
    await createRouter('kubernetes', deps).reconcile(canary);
    const apex = await getService(namespace, 'podinfo');
    const primary = await getService(namespace, 'podinfo-primary');
    const canarySvc = await getService(namespace, 'podinfo-canary');
    expect(apex.spec?.selector).toEqual({ app: 'podinfo-primary' });
    expect(primary.spec?.selector).toEqual({ app: 'podinfo-primary' });
    expect(canarySvc.spec?.selector).toEqual({ app: 'podinfo' });
    expect(apex.metadata.labels).toEqual({ tier: 'web', app: 'podinfo' });
    const fluxHandsOff = {
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
    };
    expect(apex.metadata.annotations).toEqual({ 'example.com/apex': 'yes', ...fluxHandsOff });
    expect(primary.metadata.annotations).toEqual(fluxHandsOff);
    expect(canarySvc.metadata.annotations).toEqual(fluxHandsOff);
    expect(primary.metadata.labels).toEqual({ app: 'podinfo-primary' });
    expect(canarySvc.metadata.labels).toEqual({ app: 'podinfo-canary' });
    for (const service of [apex, primary, canarySvc]) {
      expect(service.spec?.type).toBe('ClusterIP');
      expect(service.metadata.ownerReferences).toEqual([
        expect.objectContaining({
          kind: 'Canary',
          name: 'podinfo',
          uid: (canary.metadata as { uid?: string }).uid,
          controller: true,
        }),
      ]);
      expect(service.spec?.ports).toEqual([
        { name: 'http', protocol: 'TCP', port: 80, targetPort: 9898 },
        { name: 'http-metrics', protocol: 'TCP', port: 9797, targetPort: 9797 },
        { name: 'tcp-podinfod-2', protocol: 'TCP', port: 9999, targetPort: 9999 },
      ]);
    }
  });

  it('given the Services in place, when reconciling again with nothing changed, then no write is sent', async () => {
    const router = createRouter('kubernetes', deps);
    expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
  });

  it('given drifted metadata and selector on an owned Service, when reconciling, then they are put back', async () => {
    await client.mergePatch(RESOURCES.services, namespace, 'podinfo-primary', {
      metadata: { labels: { stray: 'x' } },
      spec: { selector: { app: 'podinfo' } },
    });
    await createRouter('kubernetes', deps).reconcile(canary);
    const primary = await getService(namespace, 'podinfo-primary');
    expect(primary.metadata.labels).toEqual({ app: 'podinfo-primary' });
    expect(primary.spec?.selector).toEqual({ app: 'podinfo-primary' });
  });

  it('given iterations in status, when reading routes, then the kubernetes router reports 0/100', async () => {
    const router = createRouter('kubernetes', deps);
    expect(await router.getRoutes(canary)).toMatchObject({ primaryWeight: 100, canaryWeight: 0 });
    expect(await router.getRoutes({ ...canary, status: { iterations: 1 } })).toMatchObject({
      primaryWeight: 0,
      canaryWeight: 100,
    });
  });
});

describe('a user-created apex Service', () => {
  const namespace = 'routers-apex';
  let canary: Canary;

  beforeAll(async () => {
    await givenDeployment(namespace);
    const userSelector = { app: 'podinfo', track: 'stable' };
    const manifest = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'podinfo', namespace, labels: { owner: 'user' } },
      spec: { selector: userSelector, ports: [{ name: 'http', port: 80, targetPort: 9898 }] },
    };
    await client.create(RESOURCES.services, {
      ...manifest,
      metadata: {
        ...manifest.metadata,
        annotations: {
          note: 'mine',
          'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(manifest),
        },
      },
    });
    canary = await givenCanary(namespace, {
      provider: 'kubernetes',
      revertOnDeletion: true,
      service: { port: 80, targetPort: 9898, apex: { labels: { ignored: 'on-user-services' } } },
    });
  });

  it('given an apex the user created, when reconciling, then it selects the primary and keeps its own metadata and owner', async () => {
    await createRouter('kubernetes', deps).reconcile(canary);
    const apex = await getService(namespace, 'podinfo');
    expect(apex.spec?.selector).toEqual({ app: 'podinfo-primary' });
    expect(apex.metadata.labels).toEqual({ owner: 'user' });
    expect(apex.metadata.annotations?.['note']).toBe('mine');
    expect(apex.metadata.ownerReferences).toBeUndefined();
  });

  it('given revertOnDeletion, when finalizing, then the apex selector comes back from the kubectl record, once', async () => {
    const router = createRouter('kubernetes', deps);
    await router.finalize(canary);
    expect((await getService(namespace, 'podinfo')).spec?.selector).toEqual({
      app: 'podinfo',
      track: 'stable',
    });
    expect(await writesDuring(() => router.finalize(canary))).toBe(0);
  });
});

describe('the nginx canary Ingress', () => {
  const namespace = 'routers-nginx';
  let canary: Canary;

  beforeAll(async () => {
    await givenDeployment(namespace);
    await client.create(RESOURCES.ingresses, {
      metadata: {
        name: 'podinfo',
        namespace,
        labels: { app: 'podinfo', team: 'payments', 'kustomize.toolkit.fluxcd.io/name': 'apps' },
        annotations: {
          'kubernetes.io/ingress.class': 'nginx',
          [`${NGINX}/canary-weight`]: '50',
          [`${NGINX}/proxy-body-size`]: '1m',
          'kubectl.kubernetes.io/last-applied-configuration': '{}',
        },
      },
      spec: {
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
    canary = await givenCanary(namespace, {
      provider: 'nginx',
      ingressRef: { apiVersion: 'networking.k8s.io/v1', kind: 'Ingress', name: 'podinfo' },
      service: { port: 80, targetPort: 9898 },
    });
  });

  it('given the user Ingress, when reconciling, then podinfo-canary routes to podinfo-canary at weight 0 without the user canary settings, with its labels and Flux kept off', async () => {
    await createRouter('nginx', deps).reconcile(canary);
    const ingress = await getIngress(namespace, 'podinfo-canary');
    expect(ingress.spec?.rules?.[0]?.http?.paths[0]?.backend.service?.name).toBe('podinfo-canary');
    expect(ingress.metadata.annotations).toEqual({
      'kubernetes.io/ingress.class': 'nginx',
      [`${NGINX}/proxy-body-size`]: '1m',
      [`${NGINX}/canary`]: 'true',
      [`${NGINX}/canary-weight`]: '0',
      'kustomize.toolkit.fluxcd.io/reconcile': 'disabled',
      'helm.toolkit.fluxcd.io/driftDetection': 'disabled',
    });
    // The user's labels, as Flagger copies them; Flux's ownership label stays on the user's object only.
    expect(ingress.metadata.labels).toEqual({ app: 'podinfo', team: 'payments' });
    expect(ingress.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Canary', name: 'podinfo', controller: true }),
    ]);
    expect((await getService(namespace, 'podinfo-canary')).spec?.selector).toEqual({ app: 'podinfo' });
  });

  it('given 80/20, when setting the routes, then canary-weight is 20 and getRoutes reads 80/20 back', async () => {
    const router = createRouter('nginx', deps);
    await router.setRoutes(canary, { primaryWeight: 80, canaryWeight: 20, mirrored: false });
    const ingress = await getIngress(namespace, 'podinfo-canary');
    expect(ingress.metadata.annotations?.[`${NGINX}/canary-weight`]).toBe('20');
    expect(await router.getRoutes(canary)).toEqual({ primaryWeight: 80, canaryWeight: 20, mirrored: false });
    expect(
      await writesDuring(() =>
        router.setRoutes(canary, { primaryWeight: 80, canaryWeight: 20, mirrored: false }),
      ),
    ).toBe(0);
  });

  it('given nothing changed, when reconciling again, then no write is sent', async () => {
    const router = createRouter('nginx', deps);
    expect(await writesDuring(() => router.reconcile(canary))).toBe(0);
  });

  it('given the user edits their Ingress, when reconciling, then only the spec follows and the weight stays', async () => {
    await client.mergePatch(RESOURCES.ingresses, namespace, 'podinfo', {
      metadata: { annotations: { [`${NGINX}/proxy-body-size`]: '8m' } },
      spec: {
        rules: [
          {
            host: 'www.example.com',
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
    await createRouter('nginx', deps).reconcile(canary);
    const ingress = await getIngress(namespace, 'podinfo-canary');
    expect(ingress.spec?.rules?.[0]?.host).toBe('www.example.com');
    expect(ingress.metadata.annotations?.['kustomize.toolkit.fluxcd.io/reconcile']).toBe('disabled');
    expect(ingress.metadata.annotations?.[`${NGINX}/proxy-body-size`]).toBe('1m');
    expect(ingress.metadata.annotations?.[`${NGINX}/canary-weight`]).toBe('20');
  });

  it('given A/B by header, when routing to the canary and back to 0, then the by-header annotations come and go', async () => {
    const router = createRouter('nginx', deps);
    const ab = abTesting(canary, { 'x-canary': { exact: 'insider' } });
    await router.setRoutes(ab, { primaryWeight: 0, canaryWeight: 100, mirrored: false });
    expect(routeAnnotations(await getIngress(namespace, 'podinfo-canary'))).toEqual({
      canary: 'true',
      'canary-weight': '0',
      'canary-by-header': 'x-canary',
      'canary-by-header-value': 'insider',
    });
    expect(await router.getRoutes(ab)).toMatchObject({ primaryWeight: 0, canaryWeight: 100 });
    await router.setRoutes(ab, { primaryWeight: 100, canaryWeight: 0, mirrored: false });
    expect(routeAnnotations(await getIngress(namespace, 'podinfo-canary'))).toEqual({
      canary: 'true',
      'canary-weight': '0',
    });
    expect(await router.getRoutes(ab)).toMatchObject({ primaryWeight: 100, canaryWeight: 0 });
  });

  it('given A/B by cookie, when routing to the canary and back to 0, then canary-by-cookie comes and goes', async () => {
    const router = createRouter('nginx', deps);
    const ab = abTesting(canary, { cookie: { exact: 'canary' } });
    await router.setRoutes(ab, { primaryWeight: 0, canaryWeight: 100, mirrored: false });
    expect(routeAnnotations(await getIngress(namespace, 'podinfo-canary'))).toEqual({
      canary: 'true',
      'canary-weight': '0',
      'canary-by-cookie': 'canary',
    });
    expect(await router.getRoutes(ab)).toMatchObject({ canaryWeight: 100 });
    await router.setRoutes(ab, { primaryWeight: 100, canaryWeight: 0, mirrored: false });
    expect(routeAnnotations(await getIngress(namespace, 'podinfo-canary'))).toEqual({
      canary: 'true',
      'canary-weight': '0',
    });
  });
});

describe('provider names', () => {
  it("given a router Vireo does not build on Kubernetes (local mode's), when creating it or routing a canary on it, then E_ROUTER_NOT_IMPLEMENTED names it", async () => {
    expect(() => createRouter('local', deps)).toThrow(RouterNotImplementedError);
    const created = await givenCanary('routers-names', { service: { port: 80 } });
    const canary: Canary = { ...created, spec: { ...created.spec, provider: undefined } };
    await expect(createCanaryRouter('local', deps).reconcile(canary)).rejects.toMatchObject({
      code: 'E_ROUTER_NOT_IMPLEMENTED',
      message: expect.stringMatching(
        /"local" from the flag --mesh-provider of vireo controller is not implemented yet on kubernetes; implemented: .*kubernetes.*nginx/,
      ),
    });
    expect(await client.list(RESOURCES.services, 'routers-names')).toMatchObject({ items: [] });
  });
});

function abTesting(canary: Canary, headers: Record<string, Record<string, string>>): Canary {
  return {
    ...canary,
    spec: {
      ...canary.spec,
      analysis: { interval: '10s', threshold: 2, iterations: 5, match: [{ headers }] },
    },
  };
}

/** The nginx routing annotations of an Ingress, without the prefix. */
function routeAnnotations(ingress: KubeObject): Record<string, string> {
  return Object.fromEntries(
    Object.entries(ingress.metadata.annotations ?? {})
      .filter(([key]) => key.startsWith(`${NGINX}/canary`))
      .map(([key, value]) => [key.slice(NGINX.length + 1), value]),
  );
}
