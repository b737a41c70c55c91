import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/logger.js';
import type { KubeObject } from './client.js';
import type { Informer } from './informer.js';
import { RouterWatches } from './router-watches.js';
import type { ResourceType } from './resources.js';

/** An informer whose first list succeeds or fails as told, counting its starts and stops. */
class ScriptedInformer {
  starts = 0;
  stopped = false;
  constructor(
    readonly resource: ResourceType,
    private readonly firstList: () => Promise<void>,
  ) {}
  start(): Promise<void> {
    this.starts += 1;
    return this.firstList();
  }
  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
}

function harness(firstList: () => Promise<void> = () => Promise.resolve()) {
  const made: ScriptedInformer[] = [];
  const serving = new Set<ScriptedInformer>();
  const warnings: string[] = [];
  let now = 0;
  const logger = silentLogger();
  logger.warn = ((_fields: unknown, message: string) => {
    warnings.push(message);
  }) as unknown as typeof logger.warn;
  const watches = new RouterWatches({
    makeInformer: (resource) => {
      const informer = new ScriptedInformer(resource, firstList);
      made.push(informer);
      return informer as unknown as Informer<KubeObject>;
    },
    reader: {
      addInformer: (informer) => serving.add(informer as unknown as ScriptedInformer),
      removeInformer: (informer) => serving.delete(informer as unknown as ScriptedInformer),
    },
    logger,
    clock: { monotonic: () => now },
    retryAfterMs: 30_000,
  });
  return { watches, made, serving, warnings, advance: (ms: number) => (now += ms) };
}

const settle = () => new Promise((resolve) => setImmediate(resolve));

describe('RouterWatches', () => {
  it('watches the kinds of a router once it is used, and only once however often it is used', async () => {
    const { watches, made, serving } = harness();
    expect(watches.watchedKinds).toEqual([]);
    for (let call = 0; call < 5; call += 1) watches.ensure('nginx');
    await settle();
    expect(made.map((informer) => informer.resource.plural)).toEqual(['ingresses']);
    expect(made[0]?.starts).toBe(1);
    expect(serving.has(made[0]!)).toBe(true);
  });

  it('watches each served version of a kind apart: appmesh (v1beta1) and appmesh:v1beta2, SMI v1alpha1 and v1alpha2', async () => {
    const { watches, made, serving } = harness();
    watches.ensure('appmesh');
    watches.ensure('appmesh:v1beta2');
    watches.ensure('smi:v1alpha1');
    watches.ensure('smi:v1alpha2');
    watches.ensure('appmesh:v1beta2');
    await settle();
    const started = made.map(({ resource }) => `${resource.plural}.${resource.version}`);
    expect(started).toEqual([
      'virtualnodes.v1beta1',
      'virtualservices.v1beta1',
      'virtualnodes.v1beta2',
      'virtualrouters.v1beta2',
      'virtualservices.v1beta2',
      'trafficsplits.v1alpha1',
      'trafficsplits.v1alpha2',
    ]);
    expect(made.every((informer) => serving.has(informer) && informer.starts === 1)).toBe(true);
    expect(watches.watchedKinds).toContain('virtualnodes.v1beta2.appmesh.k8s.aws');
  });

  it('watches nothing for a router that writes only Services, or for a name no router has', async () => {
    const { watches, made } = harness();
    watches.ensure('kubernetes');
    watches.ensure('no-such-router');
    await settle();
    expect(made).toEqual([]);
  });

  it('warns once when the kind is not served, and tries a new watch only after the retry delay', async () => {
    const { watches, made, serving, warnings, advance } = harness(() =>
      Promise.reject(new Error('the API server does not serve this resource (404)')),
    );
    watches.ensure('nginx');
    await settle();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('ingresses.networking.k8s.io');
    expect(warnings[0]).toContain('canaries routed by nginx fail');

    watches.ensure('nginx');
    await settle();
    expect(made).toHaveLength(1);

    advance(30_001);
    watches.ensure('nginx');
    await settle();
    expect(made).toHaveLength(2);
    expect(made[0]?.stopped).toBe(true);
    expect(serving.has(made[0]!)).toBe(false);
    expect(serving.has(made[1]!)).toBe(true);
    expect(warnings).toHaveLength(1);
  });

  it('stops every watch on stop and starts none afterwards', async () => {
    const { watches, made } = harness();
    watches.ensure('nginx');
    await watches.stop();
    expect(made[0]?.stopped).toBe(true);
    watches.ensure('nginx');
    expect(made).toHaveLength(1);
  });
});
