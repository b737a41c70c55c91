/**
 * Local mode's manifests: the same flagger.app/v1beta1 Canary, MetricTemplate and AlertProvider
 * as on Kubernetes, plus `Workload` objects (local.vireo.dev/v1alpha1) that say how to run a
 * service's processes. A Canary's `targetRef` names a Workload; its `service.port` is where the
 * router listens. Secrets may sit in the same file (v1 Secret). See docs/local/manifest.md.
 */
import { Ajv } from 'ajv';
import type { AlertProvider } from '../../api/schema/alert-provider.js';
import type { Canary } from '../../api/schema/canary.js';
import type { MetricTemplate } from '../../api/schema/metric-template.js';
import { loadSchemaValidator } from '../../api/load-validator.js';
import { decodeSecretData } from '../../secrets/secret-reader.js';
import { VireoError } from '../../shared/errors.js';
import { identityOf, manifestsIn, type Manifest } from '../../shared/manifests.js';
import { LOCAL_WORKLOAD_API_VERSION, WorkloadManifest } from '../../api/schema/workload.js';
import { formatText } from '../../validate/format.js';
import { exitCodeOf, validateInputs } from '../../validate/validate.js';

export { LOCAL_WORKLOAD_API_VERSION };

// The schema lives with the other kinds, so that `vireo validate` checks Workloads too.
export { WorkloadManifest, WorkloadSpec } from '../../api/schema/workload.js';

export interface LocalManifests {
  readonly canaries: readonly Canary[];
  readonly workloads: readonly WorkloadManifest[];
  readonly metricTemplates: readonly MetricTemplate[];
  readonly alertProviders: readonly AlertProvider[];
  /** `namespace/name` → decoded data. */
  readonly secrets: ReadonlyMap<string, Readonly<Record<string, string>>>;
  /** The manifest file's directory (absolute): relative Workload `cwd`s resolve against it. */
  readonly directory?: string;
}

export class LocalManifestError extends VireoError {
  constructor(message: string) {
    super('E_LOCAL_MANIFEST', message);
  }
}

const namespaceOf = (manifest: Manifest): string => identityOf(manifest).namespace ?? 'default';

/** Parses and validates a local-mode file; every problem is reported at once, naming the object and field. */
export async function parseLocalManifests(file: string, text: string): Promise<LocalManifests> {
  const report = validateInputs(
    { texts: [{ file, text }], unreadable: [] },
    { validator: await loadSchemaValidator() },
  );
  // Workloads are checked there too, with positions and suggestions; stopping at its errors
  // avoids a cascade of "no Workload" messages about a Workload that was merely misspelt.
  if (exitCodeOf(report) !== 0) throw new LocalManifestError(formatText(report).trimEnd());
  const problems: string[] = [];
  let manifests: Manifest[];
  try {
    manifests = manifestsIn(text);
  } catch (cause) {
    throw new LocalManifestError(
      `${file}: cannot parse: ${cause instanceof Error ? cause.message : 'invalid YAML'}`,
    );
  }
  const validateWorkload = new Ajv({ allErrors: true, useDefaults: true, strict: false }).compile(
    WorkloadManifest,
  );
  const workloads: WorkloadManifest[] = [];
  const secrets = new Map<string, Readonly<Record<string, string>>>();
  for (const manifest of manifests) {
    const name = identityOf(manifest).name ?? '(unnamed)';
    if (manifest['kind'] === 'Workload') {
      if (validateWorkload(manifest)) workloads.push(manifest);
      else {
        for (const issue of validateWorkload.errors ?? []) {
          const path = issue.instancePath.replace(/^\//, '').replace(/\//g, '.') || '(root)';
          problems.push(`${file}: Workload/${name} ${path}: ${issue.message ?? 'invalid'}`);
        }
      }
    } else if (manifest['kind'] === 'Secret') {
      secrets.set(`${namespaceOf(manifest)}/${name}`, decodeSecretData(manifest));
    }
  }
  const canaries = manifests.filter((manifest) => manifest['kind'] === 'Canary') as unknown as Canary[];
  for (const canary of canaries) {
    const target = canary.spec.targetRef;
    const namespace = canary.metadata.namespace ?? 'default';
    const found = workloads.some(
      (workload) =>
        workload.metadata.name === target.name && (workload.metadata.namespace ?? 'default') === namespace,
    );
    if (target.kind !== 'Workload') {
      problems.push(
        `${file}: Canary/${canary.metadata.name} spec.targetRef: local mode runs Workloads (apiVersion ${LOCAL_WORKLOAD_API_VERSION}, kind Workload), not ${target.kind}`,
      );
    } else if (!found) {
      problems.push(
        `${file}: Canary/${canary.metadata.name} spec.targetRef: no Workload "${target.name}" in namespace ${namespace} in this file`,
      );
    }
  }
  if (canaries.length === 0 && problems.length === 0) {
    problems.push(`${file}: no Canary: local mode needs a Canary whose targetRef names a Workload`);
  }
  if (problems.length > 0) throw new LocalManifestError(problems.join('\n'));
  return {
    canaries,
    workloads,
    metricTemplates: manifests.filter(
      (manifest) => manifest['kind'] === 'MetricTemplate',
    ) as unknown as MetricTemplate[],
    alertProviders: manifests.filter(
      (manifest) => manifest['kind'] === 'AlertProvider',
    ) as unknown as AlertProvider[],
    secrets,
  };
}
