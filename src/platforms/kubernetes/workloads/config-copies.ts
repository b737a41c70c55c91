/** The `<name>-primary` copies of tracked configs (docs/flagger-compatibility.md#27-primary-workload-promotion-and-autoscalers "Create", first step). */
import { SecretTypeChangedError } from './errors.js';
import type { Canary } from '../../../api/schema/canary.js';
import type { KubeClient } from '../client.js';
import type { KubernetesPlatformOptions } from '../options.js';
import { canaryOwnerReference, labelsWithPrefix } from '../options.js';
import type { ObjectReader } from '../reader.js';
import { RESOURCES } from '../resources.js';
import { containsDesired, deepEqual } from './compare.js';
import type { TrackedConfig } from './config-tracking.js';
import { copyOwners, primaryName } from './metadata.js';
import type { ConfigMap, Secret } from './types.js';

export function primaryConfigCopy(
  config: TrackedConfig,
  canary: Canary,
  options: KubernetesPlatformOptions,
): ConfigMap | Secret {
  const source = config.object;
  const metadata = {
    name: primaryName(config.name),
    namespace: source.metadata.namespace,
    labels: labelsWithPrefix(source.metadata.labels, options.includeLabelPrefix),
    ownerReferences: copyOwners(canaryOwnerReference(canary), source.metadata.ownerReferences),
  };
  if (config.kind === 'secret') {
    return { metadata, type: (source as Secret).type ?? 'Opaque', data: source.data ?? {} };
  }
  const binaryData = (source as ConfigMap).binaryData;
  return { metadata, data: source.data ?? {}, ...(binaryData === undefined ? {} : { binaryData }) };
}

function upToDate(live: ConfigMap | Secret, desired: ConfigMap | Secret): boolean {
  return (
    deepEqual(live.data ?? {}, desired.data ?? {}) &&
    deepEqual((live as ConfigMap).binaryData ?? {}, (desired as ConfigMap).binaryData ?? {}) &&
    (live as Secret).type === (desired as Secret).type &&
    containsDesired(live.metadata.labels ?? {}, desired.metadata.labels) &&
    containsDesired(live.metadata.ownerReferences, desired.metadata.ownerReferences)
  );
}

/** Creates or updates each copy, writing only those that differ. */
export async function syncPrimaryConfigs(
  deps: { client: KubeClient; reader: ObjectReader; options: KubernetesPlatformOptions },
  canary: Canary,
  configs: readonly TrackedConfig[],
): Promise<void> {
  for (const config of configs) {
    const resource = config.kind === 'configmap' ? RESOURCES.configMaps : RESOURCES.secrets;
    const desired = primaryConfigCopy(config, canary, deps.options);
    const namespace = desired.metadata.namespace ?? 'default';
    const live = await deps.reader.get<ConfigMap | Secret>(resource, namespace, desired.metadata.name);
    if (live !== undefined && upToDate(live, desired)) continue;
    // A Secret's type is immutable and the controller may not delete Secrets (least privilege):
    // say what to do instead of failing on every tick with an API error.
    if (
      live !== undefined &&
      config.kind === 'secret' &&
      (live as Secret).type !== (desired as Secret).type
    ) {
      throw new SecretTypeChangedError(
        `Secret ${namespace}/${desired.metadata.name} has type ${(live as Secret).type ?? 'Opaque'} but its source now has type ${(desired as Secret).type ?? 'Opaque'}; a Secret's type cannot change in place: delete ${desired.metadata.name} and Vireo recreates it on the next tick`,
      );
    }
    await deps.client.apply(resource, desired);
  }
}
