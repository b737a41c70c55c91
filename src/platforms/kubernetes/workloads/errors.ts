/** What the workload adapters refuse or cannot find, each with a stable code and what to do. */
import { VireoError } from '../../../shared/errors.js';

/** The targetRef kind is not one the Kubernetes controller runs. */
export class UnsupportedTargetError extends VireoError {
  constructor(message: string) {
    super('E_UNSUPPORTED_TARGET', message);
  }
}

/** The target, its primary or its autoscaler is missing. Retried on the next tick. */
export class WorkloadNotFoundError extends VireoError {
  constructor(message: string) {
    super('E_WORKLOAD_NOT_FOUND', message);
  }
}

/** A ConfigMap or Secret the pod template requires (not `optional`) does not exist. */
export class ConfigNotFoundError extends VireoError {
  constructor(message: string) {
    super('E_CONFIG_NOT_FOUND', message);
  }
}

/** autoscalerRef names a kind this controller does not manage (yet). */
export class UnsupportedAutoscalerError extends VireoError {
  constructor(message: string) {
    super('E_UNSUPPORTED_AUTOSCALER', message);
  }
}

/** revertOnDeletion: the restored target did not become ready in time. Retried on the next tick. */
export class TargetNotRestoredError extends VireoError {
  constructor(message: string) {
    super('E_TARGET_NOT_RESTORED', message);
  }
}

/** A Secret copy whose source changed type: it must be deleted by hand (no delete in our RBAC). */
export class SecretTypeChangedError extends VireoError {
  constructor(message: string) {
    super('E_SECRET_TYPE_CHANGED', message);
  }
}
