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
