/**
 * Test helper (not shipped): an in-memory object store that is both the routers' ObjectReader
 * and the write half of their KubeClient (create, JSON merge patch, delete), so a router's
 * reconcile → setRoutes → getRoutes round trip runs in a unit test. The cluster tests
 * (test/cluster/mesh-routers.test.ts) run the same routers against a real API server.
 */
import type { KubeClient, KubeObject } from '../client.js';
import { KubeApiError } from '../errors.js';
import { DEFAULT_PLATFORM_OPTIONS } from '../options.js';
import type { ResourceType } from '../resources.js';
import type { RouterDeps } from './router.js';

const isPlainObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** RFC 7386. */
function applyMergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const result: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key], value);
  }
  return result;
}

export interface MeshStore {
  readonly deps: RouterDeps;
  /** Every write, as `<verb> <Kind> <name>`. */
  readonly writes: string[];
  put(resource: ResourceType, object: KubeObject): void;
  object<T extends KubeObject>(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
  ): T | undefined;
}

export function newMeshStore(): MeshStore {
  const objects = new Map<string, KubeObject>();
  const writes: string[] = [];
  const key = (resource: ResourceType, namespace: string | undefined, name: string): string =>
    `${resource.group}/${resource.plural}/${resource.namespaced ? (namespace ?? '') : ''}/${name}`;
  const put = (resource: ResourceType, object: KubeObject): void => {
    objects.set(key(resource, object.metadata.namespace, object.metadata.name), structuredClone(object));
  };
  const object = <T extends KubeObject>(
    resource: ResourceType,
    namespace: string | undefined,
    name: string,
  ): T | undefined => {
    const found = objects.get(key(resource, namespace, name));
    return found === undefined ? undefined : (structuredClone(found) as T);
  };
  const client = {
    create: (resource: ResourceType, created: KubeObject) => {
      writes.push(`create ${resource.kind} ${created.metadata.name}`);
      if (object(resource, created.metadata.namespace, created.metadata.name) !== undefined) {
        return Promise.reject(new KubeApiError('E_KUBE_ALREADY_EXISTS', 'already exists', 409));
      }
      // What the API server stores: JSON, so undefined fields are gone.
      put(resource, JSON.parse(JSON.stringify(created)) as KubeObject);
      return Promise.resolve(created);
    },
    mergePatch: (resource: ResourceType, namespace: string, name: string, patch: unknown) => {
      writes.push(`patch ${resource.kind} ${name}`);
      const current = object(resource, namespace, name);
      if (current === undefined)
        return Promise.reject(new KubeApiError('E_KUBE_NOT_FOUND', 'not found', 404));
      const next = applyMergePatch(current, patch) as KubeObject;
      put(resource, next);
      return Promise.resolve(next);
    },
    delete: (resource: ResourceType, namespace: string | undefined, name: string) => {
      writes.push(`delete ${resource.kind} ${name}`);
      return Promise.resolve(objects.delete(key(resource, namespace, name)));
    },
  } as unknown as KubeClient;
  const deps: RouterDeps = {
    client,
    reader: { get: (resource, namespace, name) => Promise.resolve(object(resource, namespace, name)) },
    options: DEFAULT_PLATFORM_OPTIONS,
  };
  return { deps, writes, put, object };
}
