/**
 * The operations commands' one port (docs/cli-operations.md): `vireo get`, `status` and `explain`
 * run the same code against a cluster (cluster-backend.ts, through the kubeconfig) and against
 * local mode's state directory (local-backend.ts). A command never asks which one it has.
 */
import type { Canary } from '../../api/schema/canary.js';
import type { Decision } from '../../engine/decisions.js';
import type { KubeObject } from '../../platforms/kubernetes/client.js';
import { VireoError } from '../../shared/errors.js';

export type CanaryObject = Canary & KubeObject;

/** Which canaries a command is about: kubectl's `-n`, `-A` and `-l`. */
export interface CanaryScope {
  /** undefined with allNamespaces; otherwise the namespace (the backend's default when not given). */
  readonly namespace: string | undefined;
  readonly allNamespaces: boolean;
  readonly selector?: string;
}

/** What the primary and the canary run: images on Kubernetes, spec hashes in local mode. */
export interface Revisions {
  readonly primary?: string;
  readonly canary?: string;
  /** Why they could not be read (RBAC, a missing workload), shown instead. */
  readonly note?: string;
}

export type CanaryChange = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface OperationsBackend {
  /** Where the canaries come from, for messages: `context kind-dev` or `state directory /home/…`. */
  readonly where: string;
  /** The namespace used without -n: the kubeconfig context's, or `default`. */
  readonly defaultNamespace: string;
  list(scope: CanaryScope): Promise<CanaryObject[]>;
  /** Throws CanaryNotFoundError when there is no such canary. */
  get(namespace: string, name: string): Promise<CanaryObject>;
  /** The kept decision history, oldest first (empty when none was recorded yet). */
  decisions(namespace: string, name: string): Promise<Decision[]>;
  revisions(canary: CanaryObject): Promise<Revisions>;
  /** Calls `onChange` for each change until `signal` aborts (then resolves). */
  watch(
    scope: CanaryScope,
    onChange: (change: CanaryChange, canary: CanaryObject) => void,
    signal: AbortSignal,
  ): Promise<void>;
  close(): Promise<void>;
}

export class CanaryNotFoundError extends VireoError {
  constructor(namespace: string, name: string, where: string) {
    super(
      'E_CANARY_NOT_FOUND',
      `canary ${name} not found in namespace ${namespace} (${where}): check the name, pass -n NAMESPACE, or list them with vireo get canaries -A`,
    );
  }
}

/**
 * The operations actions (docs/adr/0032-operations-cli.md, decision 3). `pause`/`resume` write
 * Flagger's own `spec.suspend`; `promote`, `abort` and `retry` are a one-shot request the
 * controller (or local mode's daemon) honours on its next tick and records in the decision
 * history with who asked and why. The CLI and the dashboard call the same `CanaryActions`.
 */
export type CanaryAction = 'promote' | 'abort' | 'pause' | 'resume' | 'retry';

export interface ActionRequest {
  readonly action: CanaryAction;
  /** Required: every action is audited with its reason. */
  readonly reason: string;
  /** Who asks; the backend fills in the caller's identity when absent (the kubeconfig's user, the OS user). */
  readonly by?: string;
}

export interface ActionReceipt {
  /** Unique per request; the controller answers with the same id once it has acted. */
  readonly id: string;
  readonly action: CanaryAction;
  readonly by: string;
  readonly reason: string;
  /** ISO 8601, when the request was written. */
  readonly at: string;
  /** What was changed, for the user: `spec.suspend: true` or `annotation vireo.dev/request`. */
  readonly wrote: string;
}

/** RBAC refuses the caller the write an action needs; the message names the verb, resource and namespace. */
export class ActionForbiddenError extends VireoError {
  constructor(
    readonly who: string,
    readonly verb: string,
    readonly resource: string,
    readonly namespace: string,
  ) {
    super(
      'E_ACTION_FORBIDDEN',
      `you (${who}) may not ${verb} ${resource} in namespace ${namespace}: ask your cluster admin for the \`${verb}\` verb on ${resource} in ${namespace} (docs/cli-operations.md#rbac-a-user-needs)`,
    );
  }
}

/** Another request on the canary still waits for the controller: writing would replace it unseen. */
export class RequestPendingError extends VireoError {
  constructor(message: string) {
    super('E_REQUEST_PENDING', message);
  }
}

/** promote, abort and retry on a paused canary: the controller would not act on them. */
export class CanaryPausedError extends VireoError {
  constructor(message: string) {
    super('E_CANARY_PAUSED', message);
  }
}

export interface CanaryActions {
  /**
   * Writes the request. Throws a VireoError naming the missing permission when the caller's
   * RBAC refuses it, CanaryNotFoundError when there is no such canary.
   */
  act(namespace: string, name: string, request: ActionRequest): Promise<ActionReceipt>;
}
