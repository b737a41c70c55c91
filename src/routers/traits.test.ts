import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Canary } from '../api/schema/canary.js';
import { runCli } from '../cli/main.js';
import { progressionSettings } from '../engine/settings.js';
import { observerFor } from '../metrics/builtin-queries.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../platforms/kubernetes/options.js';
import { createRouter } from '../platforms/kubernetes/routers/factory.js';
import type { RouterDeps } from '../platforms/kubernetes/routers/router.js';
import { checkCanary } from '../validate/semantics/canary.js';
import { fakeIo } from '../../test/support/fake-io.js';
import { renderRouterTable, withRouterTable } from './docs.js';
import {
  DEFAULT_MESH_PROVIDER,
  findRouter,
  implementedRouters,
  nearestRouterName,
  ROUTER_NAMES,
  ROUTER_TRAITS,
  SPEC_PROVIDER_NAMES,
  UnknownRouterError,
} from './traits.js';

const ROOT = join(import.meta.dirname, '..', '..');

/** Flagger 1.44's CRD enum for spec.provider, as its users write it. */
const FLAGGER_CRD_PROVIDERS = [
  'apisix',
  'appmesh',
  'appmesh:v1beta2',
  'contour',
  'gatewayapi:v1',
  'gatewayapi:v1beta1',
  'gloo',
  'istio',
  'knative',
  'kubernetes',
  'kuma',
  'linkerd',
  'nginx',
  'osm',
  'skipper',
  'smi:v1alpha1',
  'smi:v1alpha2',
  'smi:v1alpha3',
  'traefik',
];

describe('router table: names', () => {
  it.each(FLAGGER_CRD_PROVIDERS)('knows Flagger’s %s, under its own name', (name) => {
    expect(findRouter(name)?.name).toBe(name);
  });

  it('lets spec.provider take exactly Flagger’s enum and the documented smi:crossover, not local', () => {
    expect([...SPEC_PROVIDER_NAMES].sort()).toEqual([...FLAGGER_CRD_PROVIDERS, 'smi:crossover'].sort());
    expect(ROUTER_NAMES).toContain('local');
  });

  it('generates the CRD enum from the table (crds/ regenerated with npm run gen:crds)', () => {
    const crd = parse(readFileSync(join(ROOT, 'crds', 'canaries.flagger.app.yaml'), 'utf8')) as {
      spec: {
        versions: {
          schema: {
            openAPIV3Schema: { properties: { spec: { properties: { provider: { enum: string[] } } } } };
          };
        }[];
      };
    };
    const provider = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.provider;
    expect(provider.enum).toEqual([...SPEC_PROVIDER_NAMES]);
  });

  it.each([
    ['smi:v1alpha1:istio', 'smi:v1alpha1', 'istio'],
    ['smi:v1alpha2:linkerd', 'smi:v1alpha2', 'istio'],
    ['smi:v1alpha3:crossover', 'smi:v1alpha3', 'crossover'],
  ])('accepts Flagger’s mesh-suffixed %s as the %s router with %s queries', (given, row, family) => {
    expect(findRouter(given)).toMatchObject({ name: row, given, queryFamily: family });
  });

  it('lets a linkerd mesh suffix observe all traffic, as the linkerd provider does', () => {
    expect(findRouter('smi:v1alpha2:linkerd')?.observesAllTraffic).toBe(true);
    expect(findRouter('linkerd')?.observesAllTraffic).toBe(true);
    expect(findRouter('smi:v1alpha2')?.observesAllTraffic).toBe(false);
  });

  it.each(['smi', 'gatewayapi', 'istio:service', 'smi:v1alpha4', 'smi:v1alpha1:', 'Istio', 'toString', ''])(
    'does not know %j',
    (given) => {
      expect(findRouter(given)).toBeUndefined();
    },
  );

  it.each([
    ['istoi', 'istio'],
    ['ngnix', 'nginx'],
    ['smi', 'smi:v1alpha1'],
    ['gatewayapi', 'gatewayapi:v1'],
    ['gateway-api', 'gatewayapi:v1'],
    ['xyz', undefined],
  ])('suggests for %s the name %s', (given, suggestion) => {
    expect(nearestRouterName(given)).toBe(suggestion);
  });

  it('has one default, Flagger’s istio, implemented on Kubernetes so the controller runs without --mesh-provider', () => {
    expect(DEFAULT_MESH_PROVIDER).toBe('istio');
    expect(implementedRouters('kubernetes')).toContain(DEFAULT_MESH_PROVIDER);
  });
});

describe('one default provider for every command', () => {
  it('vireo simulate runs a canary without spec.provider on the default router, as the controller would', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vireo-default-'));
    const file = join(dir, 'canary.yaml');
    writeFileSync(
      file,
      [
        'apiVersion: flagger.app/v1beta1',
        'kind: Canary',
        'metadata: {name: podinfo, namespace: test}',
        'spec:',
        '  targetRef: {apiVersion: apps/v1, kind: Deployment, name: podinfo}',
        '  service: {port: 9898}',
        '  analysis: {interval: 1m, threshold: 2, iterations: 3}',
        '',
      ].join('\n'),
    );
    const { io, stdout } = fakeIo();
    expect(await runCli(['node', 'vireo', 'simulate', '--json', file], io)).toBe(0);
    // Istio has weights: iterations without match are blue/green there too (kubernetes forced them).
    expect(JSON.parse(stdout())).toMatchObject({ provider: DEFAULT_MESH_PROVIDER, strategy: 'blue-green' });
  });

  it('vireo metrics query --builtin uses the default router’s queries', async () => {
    const { io, stdout } = fakeIo();
    // Nothing listens on port 9 of loopback: the query fails, after the subject and query are printed.
    const argv = [
      'node',
      'vireo',
      'metrics',
      'query',
      '--builtin',
      'request-duration',
      '--target',
      'podinfo',
    ];
    await runCli([...argv, '--metrics-server', 'http://127.0.0.1:9', '-o', 'json'], io);
    const report = JSON.parse(stdout()) as { subject: string; query: string };
    expect(report.subject).toBe(`built-in request-duration for ${DEFAULT_MESH_PROVIDER}`);
    expect(report.query).toContain('istio_request_duration_milliseconds_bucket');
  });
});

describe('router table: rows', () => {
  it.each(ROUTER_NAMES)('%s: its row is under its own name and its traits agree with each other', (name) => {
    const router = ROUTER_TRAITS[name];
    expect(router.name).toBe(name);
    // A router without weights only runs iterations, so it needs a default count.
    expect(router.weights || router.defaultIterations !== undefined).toBe(true);
    if (router.weightedMirror) expect(router.mirrorInCanary || router.mirrorInBlueGreen).toBe(true);
    if (router.primarySessionAffinity) expect(router.sessionAffinity).toBe(true);
    if (router.headerMatch.length === 0) expect(router.cookieMatch).toBe(false);
    if (router.dropsMatch) expect(router.headerMatch).toEqual([]);
    for (const written of router.writes) expect(written.plural).toMatch(/^[a-z]+$/);
  });

  it('says what today’s Kubernetes routers do, as docs/routers/kubernetes.md and nginx.md describe them', () => {
    expect(implementedRouters('kubernetes')).toEqual(expect.arrayContaining(['kubernetes', 'nginx']));
    expect(ROUTER_TRAITS.kubernetes).toMatchObject({
      weights: false,
      defaultIterations: 10,
      dropsMatch: true,
      writes: [],
      writesServices: true,
      queryFamily: 'http',
    });
    expect(ROUTER_TRAITS.nginx).toMatchObject({
      weights: true,
      headerMatch: ['exact', 'regex'],
      cookieMatch: true,
      mirrorInCanary: false,
      mirrorInBlueGreen: false,
      sessionAffinity: false,
      requiredReferences: [{ path: ['spec', 'ingressRef'] }],
      writes: [{ group: 'networking.k8s.io', plural: 'ingresses', kind: 'Ingress' }],
      queryFamily: 'nginx',
    });
    // docs/routers/traefik.md: weights only, no A/B, no mirroring.
    expect(ROUTER_TRAITS.traefik).toMatchObject({
      weights: true,
      headerMatch: [],
      cookieMatch: false,
      mirrorInCanary: false,
      mirrorInBlueGreen: false,
      sessionAffinity: false,
      requiredReferences: [],
      writes: [
        { group: 'traefik.io', version: 'v1alpha1', plural: 'traefikservices', kind: 'TraefikService' },
      ],
      queryFamily: 'traefik',
    });
    expect(ROUTER_TRAITS.istio).toMatchObject({
      weights: true,
      headerMatch: ['exact', 'prefix', 'regex'],
      cookieMatch: true,
      mirrorInCanary: true,
      mirrorInBlueGreen: true,
      weightedMirror: true,
      sessionAffinity: true,
      primarySessionAffinity: true,
      requiredReferences: [],
      writes: [
        { group: 'networking.istio.io', plural: 'virtualservices', kind: 'VirtualService' },
        { group: 'networking.istio.io', plural: 'destinationrules', kind: 'DestinationRule' },
      ],
      writesServices: true,
      queryFamily: 'istio',
      implementedOn: ['kubernetes'],
    });
  });
});

describe('router table: docs/routers/README.md', () => {
  it('holds the table generated from the router table (npx tsx src/routers/generate-docs.ts)', () => {
    const readme = readFileSync(join(ROOT, 'docs', 'routers', 'README.md'), 'utf8');
    expect(readme).toContain(renderRouterTable());
    expect(withRouterTable(readme)).toBe(readme);
  });
});

/** Where an unknown name is refused: one error class, one code, the nearest name, the place it came from. */
describe('every consumer refuses an unknown provider name the same way', () => {
  const typo = 'istoi';
  const canary = (provider?: string): Canary =>
    ({
      apiVersion: 'flagger.app/v1beta1',
      kind: 'Canary',
      metadata: { name: 'podinfo', namespace: 'test' },
      spec: {
        ...(provider === undefined ? {} : { provider }),
        targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
        service: { port: 9898 },
        analysis: { interval: '1m', threshold: 5, stepWeight: 10 },
      },
    }) as Canary;

  function refusal(run: () => unknown): UnknownRouterError {
    try {
      run();
    } catch (error) {
      expect(error).toBeInstanceOf(UnknownRouterError);
      return error as UnknownRouterError;
    }
    throw new Error('not refused');
  }

  function expectSameRefusal(error: UnknownRouterError, from: string): void {
    expect(error.code).toBe('E_UNKNOWN_ROUTER');
    expect(error.provider).toBe(typo);
    expect(error.message).toContain(`router provider "${typo}" from ${from} is not a provider name`);
    expect(error.message).toContain('Did you mean "istio"?');
  }

  it('the engine (progressionSettings), from the mesh provider and from spec.provider', () => {
    expectSameRefusal(
      refusal(() => progressionSettings(canary().spec, typo)),
      'the flag --mesh-provider',
    );
    expectSameRefusal(
      refusal(() => progressionSettings(canary(typo).spec, 'nginx')),
      'spec.provider',
    );
  });

  it('validation, given an unknown --mesh-provider', () => {
    expectSameRefusal(
      refusal(() => checkCanary({ ...canary() }, { meshProvider: typo })),
      'the flag --mesh-provider',
    );
  });

  it('the built-in metrics, from the mesh provider and from spec.provider', () => {
    expectSameRefusal(
      refusal(() => observerFor(canary(), typo)),
      'the flag --mesh-provider',
    );
    expectSameRefusal(
      refusal(() => observerFor(canary(typo), 'nginx')),
      'spec.provider of Canary podinfo.test',
    );
  });

  it('the Kubernetes router factory', () => {
    const deps = { options: DEFAULT_PLATFORM_OPTIONS } as unknown as RouterDeps;
    expectSameRefusal(
      refusal(() => createRouter(typo, deps)),
      'spec.provider',
    );
  });

  it.each([
    ['simulate', [join(ROOT, 'examples', 'podinfo-canary.yaml')]],
    ['validate', [join(ROOT, 'examples', 'podinfo-canary.yaml')]],
    ['metrics', ['query', '--builtin', 'request-duration', '--target', 'podinfo']],
    ['controller', []],
  ])('vireo %s --mesh-provider, before doing anything, with exit status 2', async (command, rest) => {
    const { io, stderr, stdout } = fakeIo();
    const argv = ['node', 'vireo', command, ...rest, '--mesh-provider', typo];
    expect(await runCli(argv, io)).toBe(2);
    const commandName = command === 'metrics' ? 'vireo metrics query' : `vireo ${command}`;
    expect(stderr()).toContain(
      `router provider "${typo}" from the flag --mesh-provider of ${commandName} is not a provider name`,
    );
    expect(stderr()).toContain('Did you mean "istio"? Set --mesh-provider to one of them');
    expect(stderr()).toContain('[E_UNKNOWN_ROUTER]');
    expect(stdout()).toBe('');
  });

  it("vireo controller refuses a router it does not implement on Kubernetes (local mode's), before connecting", async () => {
    const { io, stderr } = fakeIo();
    expect(await runCli(['node', 'vireo', 'controller', '--mesh-provider', 'local'], io)).toBe(2);
    expect(stderr()).toContain(
      `router provider "local" from the flag --mesh-provider of vireo controller is not implemented yet on kubernetes; implemented: ${implementedRouters('kubernetes').join(', ')}`,
    );
    expect(stderr()).toContain('[E_ROUTER_NOT_IMPLEMENTED]');
  });
});
