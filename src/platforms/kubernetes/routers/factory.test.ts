import { describe, expect, it } from 'vitest';
import type { KubeClient, KubeObject } from '../client.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../options.js';
import type { ObjectReader } from '../reader.js';
import type { ResourceType } from '../resources.js';
import { implementedRouters, ROUTER_NAMES } from '../../../routers/traits.js';
import {
  createCanaryRouter,
  createRouter,
  ROUTER_BUILDERS,
  RouterNotImplementedError,
  SUPPORTED_ROUTER_PROVIDERS,
  UnknownRouterError,
} from './factory.js';
import { newTestCanary, newTestDeployment } from './fixtures.test-helper.js';
import type { RouterDeps } from './router.js';

/** A reader over fixed objects and a client that records writes instead of sending them. */
function fakeDeps(objects: KubeObject[] = []): RouterDeps & { writes: string[] } {
  const writes: string[] = [];
  const reader: ObjectReader = {
    get: <T extends KubeObject>(resource: ResourceType, namespace: string, name: string) =>
      Promise.resolve(
        objects.find(
          (object) =>
            object.kind === resource.kind &&
            object.metadata.namespace === namespace &&
            object.metadata.name === name,
        ) as T | undefined,
      ),
  };
  const client = {
    create: (resource: ResourceType, object: KubeObject) => {
      writes.push(`create ${resource.kind} ${object.metadata.name}`);
      return Promise.resolve(object);
    },
    mergePatch: (resource: ResourceType, _namespace: string, name: string) => {
      writes.push(`patch ${resource.kind} ${name}`);
      return Promise.resolve({ metadata: { name } });
    },
  } as unknown as KubeClient;
  return { client, reader, options: DEFAULT_PLATFORM_OPTIONS, writes };
}

describe('createRouter', () => {
  it('given the supported providers, when listing, then they are the ones the table implements, in table order', () => {
    expect(SUPPORTED_ROUTER_PROVIDERS).toEqual(expect.arrayContaining(['istio', 'kubernetes', 'nginx']));
    expect(SUPPORTED_ROUTER_PROVIDERS).toEqual(implementedRouters('kubernetes'));
  });

  it('given the router table, when comparing, then every router it implements on Kubernetes has a builder and no other does', () => {
    expect(Object.keys(ROUTER_BUILDERS).sort()).toEqual([...implementedRouters('kubernetes')].sort());
  });

  it.each(ROUTER_NAMES.filter((name) => !implementedRouters('kubernetes').includes(name)))(
    'given the known provider "%s" not built yet, when creating, then E_ROUTER_NOT_IMPLEMENTED names it and the implemented ones',
    (provider) => {
      expect(() => createRouter(provider, fakeDeps())).toThrow(RouterNotImplementedError);
      expect(() => createRouter(provider, fakeDeps())).toThrow(
        expect.objectContaining({
          code: 'E_ROUTER_NOT_IMPLEMENTED',
          provider,
          message: expect.stringContaining(
            `"${provider}" from spec.provider is not implemented yet on kubernetes; implemented: ${implementedRouters('kubernetes').join(', ')}`,
          ),
        }),
      );
    },
  );

  it.each(['nginxx', '', 'gatewayapi', 'smi', 'istio:v1'])(
    'given the unknown provider "%s", when creating, then E_UNKNOWN_ROUTER names it',
    (provider) => {
      let thrown: unknown;
      try {
        createRouter(provider, fakeDeps());
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(UnknownRouterError);
      expect(thrown).toMatchObject({
        code: 'E_UNKNOWN_ROUTER',
        provider,
        message: expect.stringContaining(`"${provider}" from spec.provider is not a provider name`),
      });
    },
  );

  it('given a typo from --mesh-provider, when creating, then the message points at the flag and suggests the name', () => {
    expect(() =>
      createRouter('ngnix', fakeDeps(), { flag: '--mesh-provider', command: 'vireo controller' }),
    ).toThrow(
      /"ngnix" from the flag --mesh-provider of vireo controller .*Did you mean "nginx"\? Set --mesh-provider/,
    );
  });

  it('given an inherited prototype key, when creating, then it is unknown too', () => {
    expect(() => createRouter('toString', fakeDeps())).toThrow(UnknownRouterError);
  });

  it('given the kubernetes provider, when reconciling, then the canary, primary and apex Services are created in that order', async () => {
    const deps = fakeDeps([newTestDeployment()]);
    await createRouter('kubernetes', deps).reconcile(newTestCanary({ provider: 'kubernetes' }));
    expect(deps.writes).toEqual([
      'create Service podinfo-canary',
      'create Service podinfo-primary',
      'create Service podinfo',
    ]);
  });

  it('given a user-created apex selecting the target, when finalizing, then its selector goes back to the target pods', async () => {
    const apex: KubeObject = {
      kind: 'Service',
      metadata: { name: 'podinfo', namespace: 'test' },
      spec: { selector: { app: 'podinfo-primary' } },
    };
    const deps = fakeDeps([newTestDeployment(), apex]);
    await createRouter('kubernetes', deps).finalize(newTestCanary());
    expect(deps.writes).toEqual(['patch Service podinfo']);
  });
});

describe('createCanaryRouter', () => {
  it('given canaries with and without spec.provider, when routing, then each uses its own provider or the mesh one', async () => {
    const router = createCanaryRouter('kubernetes', fakeDeps());
    // Without spec.provider: the mesh provider, kubernetes (blue/green routes follow the iterations).
    expect(await router.getRoutes(newTestCanary({}, { iterations: 2 }))).toMatchObject({ canaryWeight: 100 });
    // With its own: nginx, which needs the canary's ingressRef.
    await expect(router.getRoutes(newTestCanary({ provider: 'nginx' }))).rejects.toMatchObject({
      code: 'E_INGRESS_REF',
    });
    await expect(router.getRoutes(newTestCanary({ provider: 'nope' as 'nginx' }))).rejects.toThrow(
      /"nope" from spec\.provider of Canary podinfo\.test is not a provider name/,
    );
  });
});
