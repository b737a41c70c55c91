/**
 * Config tracking (docs/flagger-compatibility.md#26-change-detection): the ConfigMaps and Secrets a pod template uses, read and
 * checksummed so that a change of their data counts as a new revision, and copied to
 * `<name>-primary` so the primary keeps running the promoted data while the canary tries new data.
 */
import { createHash } from 'node:crypto';
import type { ObjectReader } from '../reader.js';
import { RESOURCES } from '../resources.js';
import { stableDump } from './compare.js';
import { ConfigNotFoundError } from './errors.js';
import type { ConfigMap, Container, LocalRef, PodSpec, Secret } from './types.js';

export type ConfigKind = 'configmap' | 'secret';

export interface ConfigRef {
  readonly kind: ConfigKind;
  readonly name: string;
  /** True only when every reference to it is optional: one required use makes it required. */
  readonly optional: boolean;
}

export interface TrackedConfig {
  readonly kind: ConfigKind;
  readonly name: string;
  readonly checksum: string;
  readonly object: ConfigMap | Secret;
}

export const CONFIG_TRACKING_ANNOTATION = 'flagger.app/config-tracking';

/** Secret types that carry application data; service-account tokens or pull secrets do not. */
const TRACKED_SECRET_TYPES = new Set([
  'Opaque',
  'kubernetes.io/basic-auth',
  'kubernetes.io/ssh-auth',
  'kubernetes.io/tls',
]);

export const configKey = (config: { kind: ConfigKind; name: string }): string =>
  `${config.kind}/${config.name}`;

/** Every ConfigMap and Secret the pod spec references, in first-use order. */
export function configRefsOf(spec: PodSpec): ConfigRef[] {
  const refs = new Map<string, ConfigRef>();
  const add = (kind: ConfigKind, name: string | undefined, optional: boolean | undefined): void => {
    if (name === undefined || name === '') return;
    const key = configKey({ kind, name });
    const known = refs.get(key);
    refs.set(key, { kind, name, optional: (known?.optional ?? true) && optional === true });
  };
  for (const volume of spec.volumes ?? []) {
    add('configmap', volume.configMap?.name, volume.configMap?.optional);
    add('secret', volume.secret?.secretName, volume.secret?.optional);
    for (const source of volume.projected?.sources ?? []) {
      add('configmap', source.configMap?.name, source.configMap?.optional);
      add('secret', source.secret?.name, source.secret?.optional);
    }
  }
  const containers: Container[] = [...(spec.initContainers ?? []), ...spec.containers];
  for (const container of containers) {
    for (const env of container.env ?? []) {
      const cm: LocalRef | undefined = env.valueFrom?.configMapKeyRef;
      const secret: LocalRef | undefined = env.valueFrom?.secretKeyRef;
      add('configmap', cm?.name, cm?.optional);
      add('secret', secret?.name, secret?.optional);
    }
    for (const source of container.envFrom ?? []) {
      add('configmap', source.configMapRef?.name, source.configMapRef?.optional);
      add('secret', source.secretRef?.name, source.secretRef?.optional);
    }
  }
  return [...refs.values()];
}

/** First 8 bytes of SHA-256 over JSON(data), in hex. */
export function configChecksum(object: ConfigMap | Secret): string {
  const binary = (object as ConfigMap).binaryData;
  // binaryData is hashed too (when present), or a change to it would go unnoticed.
  const hashed = binary === undefined ? (object.data ?? {}) : { data: object.data ?? {}, binaryData: binary };
  return createHash('sha256').update(stableDump(hashed)).digest('hex').slice(0, 16);
}

/** Whether a ConfigMap or Secret that exists takes part in tracking. */
export function isTrackable(kind: ConfigKind, object: ConfigMap | Secret): boolean {
  if (object.metadata.annotations?.[CONFIG_TRACKING_ANNOTATION]?.startsWith('disable') === true) return false;
  return kind === 'configmap' || TRACKED_SECRET_TYPES.has((object as Secret).type ?? 'Opaque');
}

/**
 * Reads the configs the pod spec references. A missing optional one is left out; a missing
 * required one is an error. A failed read (not a 404) propagates: treating it as "missing" would
 * shrink the set and start a bogus analysis (Flagger #989).
 */
export async function readTrackedConfigs(
  reader: ObjectReader,
  namespace: string,
  spec: PodSpec,
  /** "Deployment podinfo", for the error message. */
  target: string,
): Promise<TrackedConfig[]> {
  const tracked: TrackedConfig[] = [];
  for (const ref of configRefsOf(spec)) {
    const resource = ref.kind === 'configmap' ? RESOURCES.configMaps : RESOURCES.secrets;
    const object = await reader.get<ConfigMap | Secret>(resource, namespace, ref.name);
    if (object === undefined) {
      if (ref.optional) continue;
      const kind = ref.kind === 'configmap' ? 'ConfigMap' : 'Secret';
      throw new ConfigNotFoundError(
        `${kind} ${namespace}/${ref.name} referenced by ${target} does not exist: create it, or mark the reference optional`,
      );
    }
    if (!isTrackable(ref.kind, object)) continue;
    tracked.push({ kind: ref.kind, name: ref.name, checksum: configChecksum(object), object });
  }
  return tracked;
}

export const trackedChecksums = (configs: readonly TrackedConfig[]): Record<string, string> =>
  Object.fromEntries(configs.map((config) => [configKey(config), config.checksum]));

export const trackedNames = (
  configs: readonly TrackedConfig[],
): { configMaps: Set<string>; secrets: Set<string> } => ({
  configMaps: new Set(configs.filter((config) => config.kind === 'configmap').map((config) => config.name)),
  secrets: new Set(configs.filter((config) => config.kind === 'secret').map((config) => config.name)),
});
