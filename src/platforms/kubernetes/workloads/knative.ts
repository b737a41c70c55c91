/**
 * Knative Service targets (docs/flagger-compatibility.md#29-target-kinds): Knative keeps every
 * revision, so there is no primary workload to copy. The primary is the revision named in the
 * Service's `flagger.app/primary-revision` annotation (set to the latest created revision when the
 * canary is initialised, and again at each promotion); the canary is the latest created revision.
 * Readiness is each revision's Ready condition; Knative scales revisions itself, so scaling is a
 * no-op, and there are no configs to track.
 */
import type { Canary } from '../../../api/schema/canary.js';
import type { Readiness, TargetRevision, Workloads } from '../../../engine/ports.js';
import type { ObjectReader } from '../reader.js';
import { RESOURCES } from '../resources.js';
import type { WorkloadContext } from './context.js';
import { WorkloadNotFoundError } from './errors.js';
import { namespaceOf } from './metadata.js';
import { specHash } from './revision.js';
import type { KnativeRevision, KnativeService } from './types.js';

/** The annotation naming the revision that serves as the primary (Flagger's name, so a takeover keeps it). */
export const PRIMARY_REVISION_ANNOTATION = 'flagger.app/primary-revision';

/** The primary revision recorded on the Service, or undefined before initialisation. */
export const primaryRevisionOf = (service: KnativeService): string | undefined =>
  service.metadata.annotations?.[PRIMARY_REVISION_ANNOTATION];

export class KnativeServiceWorkload implements Workloads {
  constructor(private readonly context: WorkloadContext) {}

  /** Records the latest created revision as the primary, once. */
  async ensurePrimary(canary: Canary): Promise<void> {
    const service = await this.readService(canary);
    if (primaryRevisionOf(service) !== undefined) return;
    await this.setPrimaryRevision(canary, latestCreated(service, canary));
  }

  /** The latest created revision becomes the primary. */
  async promote(canary: Canary): Promise<void> {
    const service = await this.readService(canary);
    const latest = latestCreated(service, canary);
    if (primaryRevisionOf(service) === latest) return;
    await this.setPrimaryRevision(canary, latest);
  }

  async primaryReadiness(canary: Canary): Promise<Readiness> {
    const service = await this.readService(canary);
    const primary = primaryRevisionOf(service);
    if (primary === undefined) {
      return { ready: false, retriable: true, reason: `the primary revision is not recorded yet` };
    }
    return this.revisionReadiness(canary, primary);
  }

  async canaryReadiness(canary: Canary): Promise<Readiness> {
    const service = await this.readService(canary);
    const latest = service.status?.latestCreatedRevisionName;
    if (latest === undefined) {
      return { ready: false, retriable: true, reason: 'Knative has not created a revision yet' };
    }
    return this.revisionReadiness(canary, latest);
  }

  scaleToZero(): Promise<void> {
    return Promise.resolve();
  }

  scaleFromZero(): Promise<void> {
    return Promise.resolve();
  }

  restoreTarget(): Promise<void> {
    return Promise.resolve();
  }

  /** A new revision is a new latest created revision name (Knative names each template change). */
  async revision(canary: Canary): Promise<TargetRevision> {
    const service = await this.readService(canary);
    const latest = latestCreated(service, canary);
    return {
      specHash: specHash(latest),
      trackedConfigs: {},
      primaryRunsTarget: primaryRevisionOf(service) === latest,
    };
  }

  private async revisionReadiness(canary: Canary, name: string): Promise<Readiness> {
    const namespace = namespaceOf(canary);
    const revision = await this.context.reader.get<KnativeRevision>(
      RESOURCES.knativeRevisions,
      namespace,
      name,
    );
    if (revision === undefined) {
      return {
        ready: false,
        retriable: true,
        reason: `Knative Revision ${namespace}/${name} does not exist yet`,
      };
    }
    const ready = revision.status?.conditions?.find((condition) => condition.type === 'Ready');
    if (ready?.status === 'True') return { ready: true };
    const why = ready?.message ?? ready?.reason ?? 'no Ready condition yet';
    // Knative reports a revision that cannot start as Ready=False; it may still recover (an
    // image pull), so the canary's progress deadline decides, as for Deployments.
    return {
      ready: false,
      retriable: true,
      reason: `Knative Revision ${namespace}/${name} is not ready: ${why}`,
    };
  }

  private async readService(canary: Canary): Promise<KnativeService> {
    const namespace = namespaceOf(canary);
    const name = canary.spec.targetRef.name;
    const service = await this.context.reader.get<KnativeService>(RESOURCES.knativeServices, namespace, name);
    if (service === undefined) {
      throw new WorkloadNotFoundError(
        `Knative Service ${namespace}/${name} named by Canary ${canary.metadata.name} (spec.targetRef) does not exist: create it, or fix spec.targetRef`,
      );
    }
    return service;
  }

  private async setPrimaryRevision(canary: Canary, revision: string): Promise<void> {
    await this.context.client.mergePatch(
      RESOURCES.knativeServices,
      namespaceOf(canary),
      canary.spec.targetRef.name,
      {
        metadata: { annotations: { [PRIMARY_REVISION_ANNOTATION]: revision } },
      },
    );
  }
}

function latestCreated(service: KnativeService, canary: Canary): string {
  const latest = service.status?.latestCreatedRevisionName;
  if (latest === undefined) {
    throw new WorkloadNotFoundError(
      `Knative Service ${namespaceOf(canary)}/${canary.spec.targetRef.name} has no latestCreatedRevisionName yet: Knative has not created its first revision (check that Knative Serving runs)`,
    );
  }
  return latest;
}

/**
 * The `{{ route }}` of a Knative target's queries: its latest created revision (Flagger's), read
 * from the Service; undefined for other targets, or before Knative created a revision.
 */
export function knativeRouteOf(reader: ObjectReader): (canary: Canary) => Promise<string | undefined> {
  return async (canary) => {
    const ref = canary.spec.targetRef;
    if (ref.kind !== 'Service' || !ref.apiVersion.startsWith('serving.knative.dev/')) return undefined;
    const service = await reader.get<KnativeService>(
      RESOURCES.knativeServices,
      namespaceOf(canary),
      ref.name,
    );
    return service?.status?.latestCreatedRevisionName;
  };
}
