/**
 * Reads of the objects a canary references. The controller serves them from its informers'
 * caches (cache.ts), so a steady-state analysis tick sends no GET that a watch already answers;
 * `DirectReader` asks the API server, for tools and tests.
 */
import type { KubeClient, KubeObject } from './client.js';
import type { ResourceType } from './resources.js';

export interface ObjectReader {
  /** The object as last seen, or undefined when it does not exist. Never a stale deleted object. */
  get<T extends KubeObject>(resource: ResourceType, namespace: string, name: string): Promise<T | undefined>;
}

export class DirectReader implements ObjectReader {
  constructor(private readonly client: KubeClient) {}

  get<T extends KubeObject>(resource: ResourceType, namespace: string, name: string): Promise<T | undefined> {
    return this.client.get<T>(resource, namespace, name);
  }
}
