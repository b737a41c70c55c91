/**
 * The operations port against a cluster: the kubeconfig's current context (or `--context`), the
 * user's own credentials and RBAC. Canaries are read from flagger.app/v1beta1, decisions from the
 * `vireo-decisions-<canary>` ConfigMap the controller keeps (docs/adr/0032-operations-cli-and-decision-records.md).
 * A refusal by RBAC is passed on with the API server's words, which name the verb and resource.
 */
import type { KubeConfig } from '@kubernetes/client-node';
import type { Decision } from '../../engine/decisions.js';
import { KubeClient, type KubeObject } from '../../platforms/kubernetes/client.js';
import {
  decisionsConfigMapName,
  decisionsOf,
  type ConfigMapObject,
} from '../../platforms/kubernetes/decision-store.js';
import { isGone, KubeApiError } from '../../platforms/kubernetes/errors.js';
import { RESOURCES, type ResourceType } from '../../platforms/kubernetes/resources.js';
import { UsageError } from '../../shared/errors.js';
import {
  CanaryNotFoundError,
  type CanaryChange,
  type CanaryObject,
  type CanaryScope,
  type OperationsBackend,
  type Revisions,
} from './port.js';

export interface ClusterFlags {
  readonly kubeconfig?: string;
  readonly context?: string;
}

type Workload = KubeObject & {
  spec?: { template?: { spec?: { containers?: { name: string; image?: string }[] } } };
};

const WATCH_SECONDS = 300;

export async function loadClusterConfig(flags: ClusterFlags): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  try {
    if (flags.kubeconfig !== undefined) kubeConfig.loadFromFile(flags.kubeconfig);
    else kubeConfig.loadFromDefault();
  } catch (cause) {
    throw new UsageError(
      `--kubeconfig: cannot read ${flags.kubeconfig ?? '$KUBECONFIG or ~/.kube/config'}: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  if (flags.context !== undefined) {
    if (kubeConfig.getContextObject(flags.context) === null)
      throw new UsageError(
        `--context: no context "${flags.context}" in the kubeconfig; it has ${
          kubeConfig
            .getContexts()
            .map((context) => context.name)
            .join(', ') || 'none'
        }`,
      );
    kubeConfig.setCurrentContext(flags.context);
  }
  if (kubeConfig.getCurrentCluster() === null)
    throw new UsageError(
      '--kubeconfig: no cluster to talk to: pass --kubeconfig or --context, or set $KUBECONFIG',
    );
  return kubeConfig;
}

export class ClusterBackend implements OperationsBackend {
  readonly where: string;
  readonly defaultNamespace: string;

  private constructor(
    private readonly client: KubeClient,
    kubeConfig: KubeConfig,
  ) {
    const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
    this.where = `context ${kubeConfig.getCurrentContext()}`;
    this.defaultNamespace = context?.namespace ?? 'default';
  }

  static async open(flags: ClusterFlags): Promise<ClusterBackend> {
    const kubeConfig = await loadClusterConfig(flags);
    return new ClusterBackend(await KubeClient.fromKubeConfig(kubeConfig), kubeConfig);
  }

  async list(scope: CanaryScope): Promise<CanaryObject[]> {
    const list = await this.client.list<CanaryObject>(
      RESOURCES.canaries,
      scope.allNamespaces ? undefined : scope.namespace,
      scope.selector === undefined ? {} : { labelSelector: scope.selector },
    );
    return list.items;
  }

  async get(namespace: string, name: string): Promise<CanaryObject> {
    const canary = await this.client.get<CanaryObject>(RESOURCES.canaries, namespace, name);
    if (canary === undefined) throw new CanaryNotFoundError(namespace, name, this.where);
    return canary;
  }

  async decisions(namespace: string, name: string): Promise<Decision[]> {
    const configMap = await this.client.get<ConfigMapObject>(
      RESOURCES.configMaps,
      namespace,
      decisionsConfigMapName(name),
    );
    return decisionsOf(configMap);
  }

  async revisions(canary: CanaryObject): Promise<Revisions> {
    const target = canary.spec.targetRef;
    const resource: ResourceType | undefined =
      target.kind === 'Deployment'
        ? RESOURCES.deployments
        : target.kind === 'DaemonSet'
          ? RESOURCES.daemonSets
          : undefined;
    if (resource === undefined) return { note: `${target.kind} targets have no image to show` };
    const namespace = canary.metadata.namespace ?? this.defaultNamespace;
    try {
      const [canarySide, primarySide] = await Promise.all([
        this.client.get<Workload>(resource, namespace, target.name),
        this.client.get<Workload>(resource, namespace, `${target.name}-primary`),
      ]);
      return { ...imagesOf('primary', primarySide), ...imagesOf('canary', canarySide) };
    } catch (error) {
      if (error instanceof KubeApiError) return { note: error.message };
      throw error;
    }
  }

  async watch(
    scope: CanaryScope,
    onChange: (change: CanaryChange, canary: CanaryObject) => void,
    signal: AbortSignal,
  ): Promise<void> {
    const namespace = scope.allNamespaces ? undefined : scope.namespace;
    const selector = scope.selector === undefined ? {} : { labelSelector: scope.selector };
    let resourceVersion = (await this.client.list<CanaryObject>(RESOURCES.canaries, namespace, selector))
      .resourceVersion;
    while (!signal.aborted) {
      try {
        await this.client.watch<CanaryObject>(
          RESOURCES.canaries,
          namespace,
          {
            ...selector,
            resourceVersion,
            timeoutSeconds: WATCH_SECONDS,
            inactivityMs: (WATCH_SECONDS + 60) * 1000,
            signal,
          },
          (event) => {
            resourceVersion = event.object.metadata.resourceVersion ?? resourceVersion;
            if (event.type !== 'BOOKMARK') onChange(event.type, event.object);
          },
        );
      } catch (error) {
        if (signal.aborted) return;
        // Too old a version: list again, and show what changed meanwhile.
        if (!isGone(error)) throw error;
        const list = await this.client.list<CanaryObject>(RESOURCES.canaries, namespace, selector);
        resourceVersion = list.resourceVersion;
        for (const canary of list.items) onChange('MODIFIED', canary);
      }
    }
  }

  close(): Promise<void> {
    return this.client.close();
  }
}

function imagesOf(side: 'primary' | 'canary', workload: Workload | undefined): Partial<Revisions> {
  if (workload === undefined) return {};
  const images = (workload.spec?.template?.spec?.containers ?? []).map((container) => container.image ?? '?');
  return { [side]: images.join(', ') };
}
