/**
 * Records every change to Canaries, Deployments, Services and Ingresses on a test cluster, then
 * replays them in the order etcd applied them, to audit what a user's traffic could have met at
 * any instant, not only what a poll happened to see.
 *
 * Why the order is exact: all these resources live in the one etcd of the test cluster, and a
 * resourceVersion is etcd's revision of the write, one counter for the whole store. Sorting the
 * events of several watches by resourceVersion therefore rebuilds the sequence of states the API
 * server went through (docs/testing-cluster.md). Kubernetes calls resourceVersions opaque; this
 * relies on the test cluster's etcd, which is fine for a test and nothing else.
 */
import type { KubeClient, KubeObject, WatchEvent } from '../../src/platforms/kubernetes/client.js';
import { KubeApiError } from '../../src/platforms/kubernetes/errors.js';
import { RESOURCES, type ResourceType } from '../../src/platforms/kubernetes/resources.js';

export interface RecordedEvent {
  /** etcd revision of the write. */
  readonly rv: number;
  readonly resource: string;
  /**
   * UNKNOWN: a re-list after a gap found this object at a later version than the last one seen, so
   * its state from just after that version until the re-listed one is not known (changes in
   * between may be missing); `object` only identifies it.
   */
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'UNKNOWN';
  readonly object: KubeObject;
}

export interface RolloutRecorder {
  /** Everything recorded so far, in etcd order. */
  events(): RecordedEvent[];
  /**
   * Times a watch had to re-list because the API server no longer had the history (410 Gone, or a
   * restarted API server): changes between the last event and the re-list may be missing.
   */
  readonly gaps: number;
  /** Watches reconnected after an error (an API server restart, say). */
  readonly reconnects: number;
  stop(): Promise<void>;
}

const RECORDED: readonly ResourceType[] = [
  RESOURCES.canaries,
  RESOURCES.deployments,
  RESOURCES.services,
  RESOURCES.ingresses,
];

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Records objects in the namespaces `include` accepts, from now on (and their current state). */
export async function startRolloutRecorder(
  client: KubeClient,
  include: (namespace: string) => boolean,
): Promise<RolloutRecorder> {
  const recorded: RecordedEvent[] = [];
  const seen = new Set<string>();
  /** Last version recorded of each object (resource/namespace/name). */
  const lastVersion = new Map<string, number>();
  const controller = new AbortController();
  let gaps = 0;
  let reconnects = 0;

  const record = (resource: ResourceType, type: RecordedEvent['type'], object: KubeObject): void => {
    const namespace = object.metadata.namespace ?? '';
    if (!include(namespace)) return;
    const rv = Number(object.metadata.resourceVersion);
    // A DELETED event carries the object's last version: the deletion itself is a later revision
    // we do not know, so it is placed just after that version.
    const order = type === 'DELETED' ? rv + 0.5 : rv;
    const id = `${resource.plural}/${namespace}/${object.metadata.name}/${order}`;
    if (seen.has(id)) return; // the same version again, from a re-list
    seen.add(id);
    recorded.push({ rv: order, resource: resource.plural, type, object });
    const key = `${resource.plural}/${namespace}/${object.metadata.name}`;
    lastVersion.set(key, Math.max(lastVersion.get(key) ?? 0, order));
  };

  /** After a gap: every object that changed since its last recorded version is unknown in between. */
  const markUnknown = (resource: ResourceType, items: readonly KubeObject[]): void => {
    const listed = new Set<string>();
    for (const item of items) {
      const namespace = item.metadata.namespace ?? '';
      const key = `${resource.plural}/${namespace}/${item.metadata.name}`;
      listed.add(key);
      const last = lastVersion.get(key);
      if (last !== undefined && include(namespace) && Number(item.metadata.resourceVersion) > last)
        recorded.push({ rv: last + 0.25, resource: resource.plural, type: 'UNKNOWN', object: item });
    }
    // Deleted during the gap: unknown from its last version on.
    for (const event of [...recorded]) {
      const namespace = event.object.metadata.namespace ?? '';
      const key = `${event.resource}/${namespace}/${event.object.metadata.name}`;
      const last = lastVersion.get(key);
      if (event.resource !== resource.plural || listed.has(key) || last !== event.rv) continue;
      if (event.type === 'DELETED' || event.type === 'UNKNOWN') continue;
      recorded.push({ rv: last + 0.25, resource: resource.plural, type: 'UNKNOWN', object: event.object });
      listed.add(key);
    }
  };

  const list = async (resource: ResourceType, afterGap = false): Promise<string> => {
    const listed = await client.list<KubeObject>(resource);
    if (afterGap) markUnknown(resource, listed.items);
    for (const item of listed.items) record(resource, 'ADDED', item);
    return listed.resourceVersion;
  };

  const follow = async (resource: ResourceType, startVersion: string): Promise<void> => {
    let version = startVersion;
    while (!controller.signal.aborted) {
      try {
        await client.watch<KubeObject>(
          resource,
          undefined,
          { resourceVersion: version, timeoutSeconds: 300, inactivityMs: 120_000, signal: controller.signal },
          (event: WatchEvent<KubeObject>) => {
            version = event.object.metadata.resourceVersion ?? version;
            if (event.type !== 'BOOKMARK') record(resource, event.type, event.object);
          },
        );
      } catch (error) {
        if (controller.signal.aborted) return;
        reconnects += 1;
        if (error instanceof KubeApiError && error.code === 'E_KUBE_GONE') {
          gaps += 1;
          version = await relist(resource);
        } else {
          await sleep(250);
        }
      }
    }
  };

  const relist = async (resource: ResourceType): Promise<string> => {
    for (;;) {
      try {
        return await list(resource, true);
      } catch (error) {
        if (controller.signal.aborted) throw error;
        await sleep(250);
      }
    }
  };

  const versions = await Promise.all(RECORDED.map((resource) => list(resource)));
  const loops = RECORDED.map((resource, index) => follow(resource, versions[index]!).catch(() => undefined));

  return {
    events: () => [...recorded].sort((a, b) => a.rv - b.rv),
    get gaps() {
      return gaps;
    },
    get reconnects() {
      return reconnects;
    },
    stop: async () => {
      controller.abort();
      await Promise.all(loops);
    },
  };
}

// ---- the audit ----------------------------------------------------------------------------------

type Deployment = KubeObject & {
  spec?: { replicas?: number; template?: unknown };
};
type Service = KubeObject & { spec?: { selector?: Record<string, string> } };
type CanaryObject = KubeObject & {
  status?: { phase?: string; lastAppliedSpec?: string; canaryWeight?: number };
};

/** What one namespace's canary looked like at one revision of etcd. */
interface View {
  canary?: CanaryObject;
  target?: Deployment;
  primary?: Deployment;
  apex?: Service;
  canaryIngress?: KubeObject;
  /** Objects whose state is unknown since a recorder gap, until their next recorded version. */
  unknown?: Set<string>;
}

export interface Finding {
  readonly namespace: string;
  readonly rv: number;
  readonly what: string;
}

export interface RolloutAudit {
  /** Traffic sent to a Deployment scaled to zero replicas, at some revision of etcd. */
  readonly unsafeRoutings: Finding[];
  /** A revision whose primary template was copied twice, or that succeeded twice. */
  readonly doublePromotions: Finding[];
  /** A revision whose analysis started twice, or a canary initialized again after its start. */
  readonly repeatedActions: Finding[];
  /** Primary template changes, by namespace and revision (status.lastAppliedSpec). */
  readonly promotions: Map<string, Map<string, number>>;
  /** Weights the canary Ingress went through, by namespace, repeats collapsed. */
  readonly weights: Map<string, number[]>;
  /** States audited (one per recorded event). */
  readonly states: number;
}

export interface AuditOptions {
  /** Name of each canary, its target Deployment and its Ingress (default podinfo). */
  readonly name?: string;
  /** Annotation prefix of the nginx canary Ingress. */
  readonly ingressPrefix?: string;
}

/** Which backends take user traffic in `view`: the apex Service's pods, and the canary Ingress's share. */
function traffic(view: View, name: string, prefix: string): { primary: boolean; canary: boolean } {
  const apexApp = view.apex?.spec?.selector?.['app'];
  const annotations = view.canaryIngress?.metadata.annotations ?? {};
  const ingressOn = annotations[`${prefix}/canary`] === 'true';
  const weight = ingressOn ? Number(annotations[`${prefix}/canary-weight`] ?? '0') : 0;
  const matched =
    ingressOn &&
    (annotations[`${prefix}/canary-by-header`] !== undefined ||
      annotations[`${prefix}/canary-by-cookie`] !== undefined);
  return {
    // The apex Service fronts the user's Ingress; a 100 % canary weight (no match) leaves it nothing.
    primary: apexApp === `${name}-primary` && (matched || weight < 100),
    canary: apexApp === name || weight > 0 || matched,
  };
}

/** Whether `key` (resource/name) is one of the objects the routing invariant reads. */
const relevant = (key: string, name: string): boolean =>
  [
    `canaries/${name}`,
    `deployments/${name}`,
    `deployments/${name}-primary`,
    `services/${name}`,
    `ingresses/${name}-canary`,
  ].includes(key);

const replicasOf = (deployment: Deployment | undefined): number | undefined =>
  deployment === undefined ? undefined : (deployment.spec?.replicas ?? 1);

/**
 * Replays `events` and reports every state in which traffic could reach a Deployment scaled to
 * zero, every revision promoted or succeeded twice, and every analysis started twice.
 */
export function auditRollouts(events: readonly RecordedEvent[], options: AuditOptions = {}): RolloutAudit {
  const name = options.name ?? 'podinfo';
  const prefix = options.ingressPrefix ?? 'nginx.ingress.kubernetes.io';
  const views = new Map<string, View>();
  const unsafeRoutings: Finding[] = [];
  const doublePromotions: Finding[] = [];
  const repeatedActions: Finding[] = [];
  const promotions = new Map<string, Map<string, number>>();
  const successes = new Map<string, Map<string, number>>();
  const starts = new Map<string, Map<string, number>>();
  const weights = new Map<string, number[]>();
  const initialized = new Set<string>();
  /** Unsafe states are reported once per episode, not once per event while they last. */
  const unsafeNow = new Set<string>();

  const bump = (table: Map<string, Map<string, number>>, namespace: string, revision: string): number => {
    const perNamespace = table.get(namespace) ?? new Map<string, number>();
    table.set(namespace, perNamespace);
    const count = (perNamespace.get(revision) ?? 0) + 1;
    perNamespace.set(revision, count);
    return count;
  };

  for (const event of events) {
    const namespace = event.object.metadata.namespace ?? '';
    const view = views.get(namespace) ?? {};
    views.set(namespace, view);
    const object = event.type === 'DELETED' ? undefined : event.object;
    const objectName = event.object.metadata.name;
    const unknownKey = `${event.resource}/${objectName}`;
    view.unknown ??= new Set();
    if (event.type === 'UNKNOWN') {
      // No claim can be made about states this object may have passed through unseen.
      view.unknown.add(unknownKey);
      continue;
    }
    view.unknown.delete(unknownKey);
    const before = { ...view };

    if (event.resource === 'canaries' && objectName === name) view.canary = object;
    else if (event.resource === 'deployments' && objectName === name) view.target = object;
    else if (event.resource === 'deployments' && objectName === `${name}-primary`) view.primary = object;
    else if (event.resource === 'services' && objectName === name) view.apex = object;
    else if (event.resource === 'ingresses' && objectName === `${name}-canary`) view.canaryIngress = object;
    else continue;

    const phase = view.canary?.status?.phase ?? '';
    const previousPhase = before.canary?.status?.phase ?? '';
    const revision = view.canary?.status?.lastAppliedSpec ?? '';

    // Phase transitions of the canary.
    if (event.resource === 'canaries' && phase !== previousPhase) {
      if (phase === 'Initialized') {
        if (initialized.has(namespace))
          repeatedActions.push({ namespace, rv: event.rv, what: 'initialized again' });
        initialized.add(namespace);
      }
      if (phase === 'Progressing' && !['Progressing', 'Promoting', 'Finalising'].includes(previousPhase)) {
        if (bump(starts, namespace, revision) > 1)
          repeatedActions.push({ namespace, rv: event.rv, what: `analysis of ${revision} started again` });
      }
      if (phase === 'Succeeded' && bump(successes, namespace, revision) > 1)
        doublePromotions.push({ namespace, rv: event.rv, what: `revision ${revision} succeeded again` });
    }

    // A copy of a new template to the primary, once it exists and the canary was initialized.
    if (
      event.resource === 'deployments' &&
      objectName === `${name}-primary` &&
      before.primary !== undefined &&
      view.primary !== undefined &&
      initialized.has(namespace) &&
      JSON.stringify(before.primary.spec?.template) !== JSON.stringify(view.primary.spec?.template)
    ) {
      if (bump(promotions, namespace, revision) > 1)
        doublePromotions.push({
          namespace,
          rv: event.rv,
          what: `primary template copied again for revision ${revision}`,
        });
    }

    if (event.resource === 'ingresses') {
      const annotations = view.canaryIngress?.metadata.annotations ?? {};
      const weight = Number(annotations[`${prefix}/canary-weight`] ?? '0');
      const seen = weights.get(namespace) ?? [];
      if (seen.at(-1) !== weight) seen.push(weight);
      weights.set(namespace, seen);
    }

    // The routing invariant, in every state whose objects are all known (a recorder gap hides
    // intermediate versions: an Ingress change missed there would fake or hide an unsafe state).
    const routed = traffic(view, name, prefix);
    const problems: string[] = [];
    const known = [...view.unknown].every((key) => !relevant(key, name));
    if (!known) continue;
    if (routed.canary && replicasOf(view.target) === 0)
      problems.push(`traffic to ${name} while it has 0 replicas`);
    if (routed.primary && replicasOf(view.primary) === 0)
      problems.push(`traffic to ${name}-primary while it has 0 replicas`);
    for (const problem of problems) {
      const key = `${namespace}/${problem}`;
      if (!unsafeNow.has(key)) {
        unsafeRoutings.push({
          namespace,
          rv: event.rv,
          what: `${problem} (canary phase ${phase || 'none'}, weight annotation ${
            view.canaryIngress?.metadata.annotations?.[`${prefix}/canary-weight`] ?? 'none'
          }, apex selects ${view.apex?.spec?.selector?.['app'] ?? 'nothing'})`,
        });
        unsafeNow.add(key);
      }
    }
    for (const key of [...unsafeNow])
      if (key.startsWith(`${namespace}/`) && !problems.some((problem) => key === `${namespace}/${problem}`))
        unsafeNow.delete(key);
  }

  return {
    unsafeRoutings,
    doublePromotions,
    repeatedActions,
    promotions,
    weights,
    states: events.length,
  };
}
