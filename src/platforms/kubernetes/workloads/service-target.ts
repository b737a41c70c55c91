/**
 * Plain Service targets (docs/flagger-compatibility.md#29-target-kinds): no pods of their own, so "primary" and "canary" are
 * copies of the Service for routers to point at. `<t>-canary` follows `<t>` on every reconcile;
 * `<t>-primary` changes only at promotion. Always ready, nothing to scale.
 */
import type { Canary } from '../../../api/schema/canary.js';
import type { Readiness, TargetRevision, Workloads } from '../../../engine/ports.js';
import { canaryOwnerReference } from '../options.js';
import { RESOURCES } from '../resources.js';
import { clone, containsDesired, deepEqual } from './compare.js';
import type { WorkloadContext } from './context.js';
import { WorkloadNotFoundError } from './errors.js';
import { CANARY_SUFFIX, LAST_APPLIED_ANNOTATION, namespaceOf, primaryName } from './metadata.js';
import { serviceSpecHash } from './revision.js';
import type { Service } from './types.js';

/**
 * A copy under another name. Addresses are the API server's to allocate: a copied clusterIP or
 * nodePort would collide with the original's.
 */
export function serviceCopy(target: Service, name: string, canary: Canary): Service {
  const spec = clone(target.spec ?? {});
  delete spec.clusterIP;
  delete spec.clusterIPs;
  delete spec.healthCheckNodePort;
  for (const port of spec.ports ?? []) delete port.nodePort;
  const annotations = { ...target.metadata.annotations };
  delete annotations[LAST_APPLIED_ANNOTATION];
  return {
    metadata: {
      name,
      namespace: namespaceOf(canary),
      labels: { ...target.metadata.labels },
      annotations,
      ownerReferences: [canaryOwnerReference(canary)],
    },
    spec,
  };
}

function upToDate(live: Service, desired: Service): boolean {
  return (
    containsDesired(live.spec, desired.spec) &&
    deepEqual(live.spec?.selector ?? {}, desired.spec?.selector ?? {}) &&
    containsDesired(live.metadata.labels ?? {}, desired.metadata.labels) &&
    containsDesired(live.metadata.annotations ?? {}, desired.metadata.annotations) &&
    containsDesired(live.metadata.ownerReferences, desired.metadata.ownerReferences)
  );
}

const READY: Readiness = { ready: true };

export class ServiceTargetWorkload implements Workloads {
  constructor(private readonly context: WorkloadContext) {}

  async ensurePrimary(canary: Canary): Promise<void> {
    const target = await this.readTarget(canary);
    await this.sync(canary, serviceCopy(target, `${target.metadata.name}${CANARY_SUFFIX}`, canary), true);
    await this.sync(canary, serviceCopy(target, primaryName(target.metadata.name), canary), false);
  }

  async promote(canary: Canary): Promise<void> {
    const target = await this.readTarget(canary);
    await this.sync(canary, serviceCopy(target, primaryName(target.metadata.name), canary), true);
  }

  primaryReadiness(): Promise<Readiness> {
    return Promise.resolve(READY);
  }

  canaryReadiness(): Promise<Readiness> {
    return Promise.resolve(READY);
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

  async revision(canary: Canary): Promise<TargetRevision> {
    const target = await this.readTarget(canary);
    return { specHash: serviceSpecHash(target.spec), trackedConfigs: {} };
  }

  private async readTarget(canary: Canary): Promise<Service> {
    const name = canary.spec.targetRef.name;
    const target = await this.context.reader.get<Service>(RESOURCES.services, namespaceOf(canary), name);
    if (target === undefined) {
      throw new WorkloadNotFoundError(
        `Service ${namespaceOf(canary)}/${name} named by Canary ${canary.metadata.name} (spec.targetRef) does not exist: create it, or fix spec.targetRef`,
      );
    }
    return target;
  }

  /** Writes `desired` when absent, or when `update` and it differs; nothing otherwise. */
  private async sync(canary: Canary, desired: Service, update: boolean): Promise<void> {
    const live = await this.context.reader.get<Service>(
      RESOURCES.services,
      namespaceOf(canary),
      desired.metadata.name,
    );
    if (live !== undefined && (!update || upToDate(live, desired))) return;
    await this.context.client.apply(RESOURCES.services, desired);
  }
}
