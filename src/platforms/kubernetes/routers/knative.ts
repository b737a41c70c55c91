/**
 * The `knative` provider (docs/routers/knative.md): the traffic block of the Knative Service
 * itself splits requests between the primary revision (named by the Service's
 * `flagger.app/primary-revision` annotation, which the Knative workload keeps) and the latest
 * created revision, the canary. No other object is written, and no generated Services: Knative
 * routes to revisions itself.
 */
import type { Canary } from '../../../api/schema/canary.js';
import { VireoError } from '../../../shared/errors.js';
import { RESOURCES } from '../resources.js';
import { PRIMARY_REVISION_ANNOTATION, primaryRevisionOf } from '../workloads/knative.js';
import type { KnativeService, KnativeTrafficTarget } from '../workloads/types.js';
import { namespaceOf } from './objects.js';
import type { MeshRouter, RouterDeps, Routes } from './router.js';

export type KnativeRouterErrorCode = 'E_KNATIVE_SERVICE_NOT_FOUND' | 'E_KNATIVE_TRAFFIC_UNKNOWN';

export class KnativeRouterError extends VireoError {
  constructor(code: KnativeRouterErrorCode, message: string) {
    super(code, message);
  }
}

/** The traffic block for a split: the latest revision gets the canary's share, the primary the rest. */
export function knativeTraffic(
  primaryRevision: string,
  routes: Pick<Routes, 'primaryWeight' | 'canaryWeight'>,
) {
  return [
    { latestRevision: true, percent: routes.canaryWeight },
    { revisionName: primaryRevision, latestRevision: false, percent: routes.primaryWeight },
  ] satisfies KnativeTrafficTarget[];
}

const sameTraffic = (
  live: readonly KnativeTrafficTarget[] | undefined,
  desired: readonly KnativeTrafficTarget[],
) =>
  live !== undefined &&
  live.length === desired.length &&
  desired.every((entry, index) => {
    const other = live[index];
    return (
      other !== undefined &&
      (other.latestRevision ?? false) === (entry.latestRevision ?? false) &&
      (entry.revisionName === undefined || other.revisionName === entry.revisionName) &&
      (other.percent ?? 0) === (entry.percent ?? 0)
    );
  });

export class KnativeRouter implements MeshRouter {
  constructor(private readonly deps: RouterDeps) {}

  /**
   * A Service without a traffic block sends everything to its latest revision: before the first
   * analysis step that would be the canary. Give it one that sends everything to the primary;
   * an existing block is the analysis's and is left alone.
   */
  async reconcile(canary: Canary): Promise<void> {
    const service = await this.readService(canary);
    const primary = primaryRevisionOf(service);
    if (primary === undefined || (service.spec?.traffic?.length ?? 0) > 0) return;
    await this.writeTraffic(canary, knativeTraffic(primary, { primaryWeight: 100, canaryWeight: 0 }));
  }

  /** The weights Knative reports in force (status.traffic), not the ones asked for. */
  async getRoutes(canary: Canary): Promise<Routes> {
    const service = await this.readService(canary);
    const primary = primaryRevisionOf(service);
    const traffic = service.status?.traffic;
    if (primary === undefined || traffic === undefined) {
      throw new KnativeRouterError(
        'E_KNATIVE_TRAFFIC_UNKNOWN',
        `Knative Service ${this.describe(canary)} reports no traffic split yet (status.traffic)${primary === undefined ? ' and has no primary revision' : ''}: check that Knative Serving runs; retrying`,
      );
    }
    const latest = traffic.find((entry) => entry.latestRevision === true);
    const primaryEntries = traffic.filter(
      (entry) => entry.latestRevision !== true && entry.revisionName === primary,
    );
    const canaryWeight = latest?.percent ?? 0;
    const primaryWeight = primaryEntries.reduce((sum, entry) => sum + (entry.percent ?? 0), 0);
    return { primaryWeight, canaryWeight, mirrored: false };
  }

  async setRoutes(canary: Canary, routes: Routes): Promise<void> {
    const service = await this.readService(canary);
    const primary = primaryRevisionOf(service);
    if (primary === undefined) {
      throw new KnativeRouterError(
        'E_KNATIVE_TRAFFIC_UNKNOWN',
        `Knative Service ${this.describe(canary)} has no ${PRIMARY_REVISION_ANNOTATION} annotation yet: the canary is not initialised; retrying`,
      );
    }
    const desired = knativeTraffic(primary, routes);
    if (sameTraffic(service.spec?.traffic, desired)) return;
    await this.writeTraffic(canary, desired);
  }

  /** revertOnDeletion: the primary-revision annotation goes; the traffic block stays as last set. */
  async finalize(canary: Canary): Promise<void> {
    const service = await this.deps.reader.get<KnativeService>(
      RESOURCES.knativeServices,
      namespaceOf(canary),
      canary.spec.targetRef.name,
    );
    if (service === undefined || primaryRevisionOf(service) === undefined) return;
    await this.deps.client.mergePatch(
      RESOURCES.knativeServices,
      namespaceOf(canary),
      canary.spec.targetRef.name,
      {
        metadata: { annotations: { [PRIMARY_REVISION_ANNOTATION]: null } },
      },
    );
  }

  private async readService(canary: Canary): Promise<KnativeService> {
    const service = await this.deps.reader.get<KnativeService>(
      RESOURCES.knativeServices,
      namespaceOf(canary),
      canary.spec.targetRef.name,
    );
    if (service === undefined) {
      throw new KnativeRouterError(
        'E_KNATIVE_SERVICE_NOT_FOUND',
        `Knative Service ${this.describe(canary)} named by Canary ${canary.metadata.name} (spec.targetRef) does not exist: create it, or fix spec.targetRef`,
      );
    }
    return service;
  }

  private async writeTraffic(canary: Canary, traffic: KnativeTrafficTarget[]): Promise<void> {
    // A merge patch replaces the whole list: entries of an earlier split do not linger.
    await this.deps.client.mergePatch(
      RESOURCES.knativeServices,
      namespaceOf(canary),
      canary.spec.targetRef.name,
      {
        spec: { traffic },
      },
    );
  }

  private describe(canary: Canary): string {
    return `${namespaceOf(canary)}/${canary.spec.targetRef.name}`;
  }
}
