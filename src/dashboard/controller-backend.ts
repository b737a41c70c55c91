/**
 * The operations port served from the controller's own caches (`vireo controller
 * --dashboard-port`): canaries from its canary informer, decisions from the ConfigMaps its
 * configmaps informer already holds, revisions from its deployments and daemonsets informers.
 * The dashboard adds no request to the API server beyond the reviews of users' tokens.
 */
import type { Decision } from '../engine/decisions.js';
import type { KubeObject } from '../platforms/kubernetes/client.js';
import {
  DECISIONS_LABEL,
  decisionsConfigMapName,
  decisionsOf,
} from '../platforms/kubernetes/decision-store.js';
import type { Informer } from '../platforms/kubernetes/informer.js';
import {
  CanaryNotFoundError,
  type CanaryChange,
  type CanaryObject,
  type CanaryScope,
  type OperationsBackend,
  type Revisions,
} from '../cli/ops/port.js';

/** What the controller lends the dashboard (KubernetesController.dashboardCaches()). */
export interface ControllerCaches {
  readonly canaries: Informer<CanaryObject>;
  /** By plural: configmaps, deployments, daemonsets. */
  readonly workloads: ReadonlyMap<string, Informer<KubeObject>>;
}

type Workload = KubeObject & {
  spec?: { template?: { spec?: { containers?: { name: string; image?: string }[] } } };
};

export class ControllerCacheBackend implements OperationsBackend {
  readonly where = "the controller's caches";
  readonly defaultNamespace = 'default';

  constructor(private readonly caches: ControllerCaches) {}

  list(scope: CanaryScope): Promise<CanaryObject[]> {
    return Promise.resolve(this.caches.canaries.list(scope.allNamespaces ? undefined : scope.namespace));
  }

  get(namespace: string, name: string): Promise<CanaryObject> {
    const canary = this.caches.canaries.get(namespace, name);
    if (canary === undefined) return Promise.reject(new CanaryNotFoundError(namespace, name, this.where));
    return Promise.resolve(canary);
  }

  decisions(namespace: string, name: string): Promise<Decision[]> {
    const configMap = this.caches.workloads.get('configmaps')?.get(namespace, decisionsConfigMapName(name));
    return Promise.resolve(decisionsOf(configMap));
  }

  revisions(canary: CanaryObject): Promise<Revisions> {
    const target = canary.spec.targetRef;
    const informer = this.caches.workloads.get(
      target.kind === 'Deployment' ? 'deployments' : target.kind === 'DaemonSet' ? 'daemonsets' : '',
    );
    if (informer === undefined)
      return Promise.resolve({ note: `${target.kind} targets have no image to show` });
    const namespace = canary.metadata.namespace ?? 'default';
    const images = (workload: KubeObject | undefined): string | undefined =>
      workload === undefined
        ? undefined
        : ((workload as Workload).spec?.template?.spec?.containers ?? [])
            .map((container) => container.image ?? '?')
            .join(', ');
    const primary = images(informer.get(namespace, `${target.name}-primary`));
    const canarySide = images(informer.get(namespace, target.name));
    return Promise.resolve({
      ...(primary === undefined ? {} : { primary }),
      ...(canarySide === undefined ? {} : { canary: canarySide }),
    });
  }

  /** The informer's own events: no watch of our own. */
  watch(
    scope: CanaryScope,
    onChange: (change: CanaryChange, canary: CanaryObject) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const inScope = (canary: CanaryObject): boolean =>
      scope.allNamespaces || canary.metadata.namespace === scope.namespace;
    const configMaps = this.caches.workloads.get('configmaps');
    // A new decision lands in the canary's ConfigMap: show it as a change of that canary.
    const decisionsChanged = (configMap: KubeObject): void => {
      const owner = configMap.metadata.labels?.[DECISIONS_LABEL];
      const canary =
        owner === undefined ? undefined : this.caches.canaries.get(configMap.metadata.namespace, owner);
      if (canary !== undefined && inScope(canary)) onChange('MODIFIED', canary);
    };
    const unsubscribe = [
      this.caches.canaries.onAdd((canary) => inScope(canary) && onChange('ADDED', canary)),
      this.caches.canaries.onUpdate((canary) => inScope(canary) && onChange('MODIFIED', canary)),
      this.caches.canaries.onDelete((canary) => inScope(canary) && onChange('DELETED', canary)),
      // A new decision lands in the canary's ConfigMap: show it as a change of that canary.
      ...(configMaps === undefined
        ? []
        : [configMaps.onAdd(decisionsChanged), configMaps.onUpdate(decisionsChanged)]),
    ];
    return new Promise((resolve) => {
      const stop = (): void => {
        for (const off of unsubscribe) off();
        resolve();
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
