/** Canaries and an in-memory ObjectReader for the unit tests of this directory. */
import type { Canary } from '../../../api/schema/canary.js';
import type { KubeObject } from '../client.js';
import type { ObjectReader } from '../reader.js';
import type { ResourceType } from '../resources.js';

export function testCanary(spec: Partial<Canary['spec']> = {}, status?: Canary['status']): Canary {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'podinfo', namespace: 'test', uid: 'canary-uid' } as Canary['metadata'],
    spec: {
      targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
      analysis: { interval: '1m', threshold: 5, stepWeight: 10 },
      ...spec,
    },
    ...(status === undefined ? {} : { status }),
  };
}

/** Objects by `<plural>/<namespace>/<name>`; `failing` names make get reject like a broken API. */
export class MapReader implements ObjectReader {
  readonly objects = new Map<string, KubeObject>();
  readonly failing = new Set<string>();

  put(resource: ResourceType, object: KubeObject): this {
    this.objects.set(`${resource.plural}/${object.metadata.namespace}/${object.metadata.name}`, object);
    return this;
  }

  get<T extends KubeObject>(resource: ResourceType, namespace: string, name: string): Promise<T | undefined> {
    const key = `${resource.plural}/${namespace}/${name}`;
    if (this.failing.has(key)) return Promise.reject(new Error(`get ${key}: connection reset`));
    return Promise.resolve(this.objects.get(key) as T | undefined);
  }
}
