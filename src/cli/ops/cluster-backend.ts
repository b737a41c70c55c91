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
import { isConflict, isGone, KubeApiError } from '../../platforms/kubernetes/errors.js';
import { RESOURCES, type ResourceType } from '../../platforms/kubernetes/resources.js';
import { REQUEST_ANNOTATION, requestAnnotationValue } from '../../engine/operator-requests.js';
import { UsageError } from '../../shared/errors.js';
import { operatorRequestOf, receiptOf, refuseIfPaused, refuseIfPending } from './actions.js';
import {
  ActionForbiddenError,
  CanaryNotFoundError,
  type ActionReceipt,
  type ActionRequest,
  type CanaryActions,
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

/** The field manager of the CLI's writes, so a GitOps tool's server-side apply keeps its own fields. */
export const CLI_FIELD_MANAGER = 'vireo-cli';

const SELF_SUBJECT_REVIEWS: ResourceType = {
  group: 'authentication.k8s.io',
  version: 'v1',
  plural: 'selfsubjectreviews',
  kind: 'SelfSubjectReview',
  namespaced: false,
};
const SELF_SUBJECT_ACCESS_REVIEWS: ResourceType = {
  group: 'authorization.k8s.io',
  version: 'v1',
  plural: 'selfsubjectaccessreviews',
  kind: 'SelfSubjectAccessReview',
  namespaced: false,
};
const CANARIES_RESOURCE = 'canaries.flagger.app';
/** A conflicting write between our read and our patch: read again, at most this many times. */
const PATCH_ATTEMPTS = 3;

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

export class ClusterBackend implements OperationsBackend, CanaryActions {
  readonly where: string;
  readonly defaultNamespace: string;
  private readonly kubeconfigUser: string | undefined;
  private identity: Promise<string> | undefined;

  private constructor(
    private readonly client: KubeClient,
    kubeConfig: KubeConfig,
    private readonly now: () => Date,
  ) {
    const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
    this.where = `context ${kubeConfig.getCurrentContext()}`;
    this.defaultNamespace = context?.namespace ?? 'default';
    this.kubeconfigUser = kubeConfig.getCurrentUser()?.name;
  }

  static async open(flags: ClusterFlags, now: () => Date = () => new Date()): Promise<ClusterBackend> {
    return ClusterBackend.fromKubeConfig(await loadClusterConfig(flags), now);
  }

  /** A loaded kubeconfig (the controller's, for `vireo controller --dashboard-port`'s actions). */
  static async fromKubeConfig(
    kubeConfig: KubeConfig,
    now: () => Date = () => new Date(),
  ): Promise<ClusterBackend> {
    return new ClusterBackend(await KubeClient.fromKubeConfig(kubeConfig), kubeConfig, now);
  }

  /**
   * Who the API server says the caller is (SelfSubjectReview, Kubernetes 1.28+), else the
   * kubeconfig's user name: recorded as `by` in the request.
   */
  whoAmI(): Promise<string> {
    this.identity ??= (async () => {
      try {
        const review = await this.client.create<
          KubeObject & { status?: { userInfo?: { username?: string } } }
        >(SELF_SUBJECT_REVIEWS, { metadata: {} } as unknown as KubeObject);
        const username = review.status?.userInfo?.username;
        if (username !== undefined && username !== '') return username;
      } catch (error) {
        // Older API servers, or RBAC without system:basic-user: the kubeconfig's name will do.
        if (!(error instanceof KubeApiError)) throw error;
      }
      return this.kubeconfigUser ?? 'unknown';
    })();
    return this.identity;
  }

  /** Whether RBAC lets the caller patch this canary (SelfSubjectAccessReview); undefined when it cannot tell. */
  private async mayPatch(namespace: string, name: string): Promise<boolean | undefined> {
    try {
      const review = await this.client.create<KubeObject & { status?: { allowed?: boolean } }>(
        SELF_SUBJECT_ACCESS_REVIEWS,
        {
          metadata: {},
          spec: {
            resourceAttributes: {
              namespace,
              verb: 'patch',
              group: 'flagger.app',
              resource: 'canaries',
              name,
            },
          },
        } as unknown as KubeObject,
      );
      return review.status?.allowed === true;
    } catch (error) {
      if (error instanceof KubeApiError) return undefined;
      throw error;
    }
  }

  /**
   * pause/resume: `spec.suspend` (Flagger's field) and the request annotation, for the audit;
   * promote/abort/retry: the annotation. One merge patch with the resourceVersion read, so a
   * request written meanwhile by someone else is never replaced unseen.
   */
  async act(namespace: string, name: string, request: ActionRequest): Promise<ActionReceipt> {
    const who = request.by ?? (await this.whoAmI());
    const operatorRequest = operatorRequestOf(request, who, this.now());
    if ((await this.mayPatch(namespace, name)) === false)
      throw new ActionForbiddenError(who, 'patch', CANARIES_RESOURCE, namespace);
    for (let attempt = 1; ; attempt++) {
      const canary = await this.get(namespace, name);
      refuseIfPaused(canary, request.action);
      refuseIfPending(canary, `kubectl annotate canary ${name} -n ${namespace} ${REQUEST_ANNOTATION}-`);
      const suspend =
        request.action === 'pause'
          ? { spec: { suspend: true } }
          : request.action === 'resume'
            ? { spec: { suspend: false } }
            : {};
      const patch = {
        metadata: {
          resourceVersion: canary.metadata.resourceVersion,
          annotations: { [REQUEST_ANNOTATION]: requestAnnotationValue(operatorRequest) },
        },
        ...suspend,
      };
      try {
        await this.client.mergePatch(
          RESOURCES.canaries,
          namespace,
          name,
          patch,
          undefined,
          CLI_FIELD_MANAGER,
        );
        return receiptOf(operatorRequest);
      } catch (error) {
        if (error instanceof KubeApiError && error.code === 'E_KUBE_FORBIDDEN')
          throw new ActionForbiddenError(who, 'patch', CANARIES_RESOURCE, namespace);
        if (!isConflict(error) || attempt >= PATCH_ATTEMPTS) throw error;
      }
    }
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
