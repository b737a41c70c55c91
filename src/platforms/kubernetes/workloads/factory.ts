/** One implementation per targetRef kind; anything else is refused with what to do instead. */
import type { Canary } from '../../../api/schema/canary.js';
import type { Workloads } from '../../../engine/ports.js';
import type { WorkloadContext } from './context.js';
import { DaemonSetWorkload } from './daemonset.js';
import { DeploymentWorkload } from './deployment.js';
import { UnsupportedTargetError } from './errors.js';
import { namespaceOf } from './metadata.js';
import { KnativeServiceWorkload } from './knative.js';
import { ServiceTargetWorkload } from './service-target.js';

/** `KnativeService`: a `Service` of `serving.knative.dev`. */
export type TargetKind = 'Deployment' | 'DaemonSet' | 'Service' | 'KnativeService';

export function createWorkloads(kind: TargetKind, context: WorkloadContext): Workloads {
  switch (kind) {
    case 'Deployment':
      return new DeploymentWorkload(context);
    case 'DaemonSet':
      return new DaemonSetWorkload(context);
    case 'Service':
      return new ServiceTargetWorkload(context);
    case 'KnativeService':
      return new KnativeServiceWorkload(context);
  }
}

/** The kind of the canary's target, or an error saying why the controller cannot run it. */
export function targetKindOf(canary: Canary): TargetKind {
  const kind: string = canary.spec.targetRef.kind;
  if (kind === 'Service' && canary.spec.targetRef.apiVersion.startsWith('serving.knative.dev/'))
    return 'KnativeService';
  if (kind === 'Deployment' || kind === 'DaemonSet' || kind === 'Service') return kind;
  const where = `Canary ${canary.metadata.name}.${namespaceOf(canary)}`;
  if (kind === 'Workload') {
    throw new UnsupportedTargetError(
      `${where}: targetRef kind Workload is a local-mode kind, run with \`vireo local apply\`; the Kubernetes controller runs Deployment, DaemonSet, Service and Knative Service targets`,
    );
  }
  throw new UnsupportedTargetError(
    `${where}: targetRef kind ${kind} is not supported; use a Deployment, DaemonSet, Service or Knative Service target`,
  );
}
