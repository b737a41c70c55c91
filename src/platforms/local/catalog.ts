/**
 * Local mode's applied manifests, as the engine's sources: the canaries (with their status from
 * the state file, as the API server would serve them), MetricTemplates, AlertProviders, Secrets,
 * and the Workload specs the process supervisor runs.
 */
import { dirname, resolve } from 'node:path';
import type { AlertProvider } from '../../api/schema/alert-provider.js';
import type { Canary } from '../../api/schema/canary.js';
import type { MetricTemplate } from '../../api/schema/metric-template.js';
import { keyOf, type CanaryKey, type CanarySource } from '../../engine/ports.js';
import { SecretNotFoundError, type SecretReader } from '../../secrets/secret-reader.js';
import type { LocalManifests, WorkloadManifest } from './manifest.js';
import { readRequestFile, withOperatorRequests } from './operator-requests.js';
import type { LocalStateStore } from './state.js';
import type { WorkloadSpec } from './workload-spec.js';
import type { WorkloadCatalog } from './workloads.js';

/** The applied manifests, as the engine's and the adapters' sources. */
export class LocalCatalog implements CanarySource, WorkloadCatalog, SecretReader {
  constructor(
    private manifests: LocalManifests,
    private readonly baseDirectory: string,
    private readonly state: LocalStateStore,
  ) {}

  replace(manifests: LocalManifests): void {
    this.manifests = manifests;
  }

  get canaries(): readonly Canary[] {
    return this.manifests.canaries;
  }

  /** The applied canary with this key, without its status. */
  canary(key: CanaryKey): Canary | undefined {
    return this.manifests.canaries.find((candidate) => sameKey(keyOf(candidate), key));
  }

  /**
   * The manifest's canary with its status from the state file and the operator's request laid
   * over it (operator-requests.ts), as the API server would serve it.
   */
  async getCanary(key: CanaryKey): Promise<Canary | undefined> {
    const applied = this.manifests.canaries.find((candidate) => sameKey(keyOf(candidate), key));
    if (applied === undefined) return undefined;
    const state = this.state.peek(key);
    const canary = withOperatorRequests(
      applied,
      await readRequestFile(dirname(this.state.path), key),
      state?.requestDone,
    );
    const status = state?.status;
    return status === undefined ? canary : { ...canary, status: structuredClone(status) };
  }

  getMetricTemplate(namespace: string, name: string): Promise<MetricTemplate | undefined> {
    return Promise.resolve(findNamed(this.manifests.metricTemplates, namespace, name));
  }

  getAlertProvider(namespace: string, name: string): Promise<AlertProvider | undefined> {
    return Promise.resolve(findNamed(this.manifests.alertProviders, namespace, name));
  }

  getSecret(namespace: string, name: string): Promise<Record<string, string> | undefined> {
    const secret = this.manifests.secrets.get(`${namespace}/${name}`);
    return Promise.resolve(secret === undefined ? undefined : { ...secret });
  }

  async read(namespace: string, name: string): Promise<Readonly<Record<string, string>>> {
    const secret = await this.getSecret(namespace, name);
    if (secret === undefined)
      throw new SecretNotFoundError(`Secret ${namespace}/${name} is not in the applied manifests`);
    return secret;
  }

  /** Whether the canary's Workload asks for real nginx rather than the built-in proxy. */
  usesNginx(canary: Canary): boolean {
    return this.workload(keyOf(canary).namespace, canary.spec.targetRef.name)?.spec.router === 'nginx';
  }

  workload(namespace: string, name: string): WorkloadManifest | undefined {
    return findNamed(this.manifests.workloads, namespace, name);
  }

  spec(namespace: string, name: string): WorkloadSpec | undefined {
    const workload = this.workload(namespace, name);
    if (workload === undefined) return undefined;
    const { spec } = workload;
    return {
      name: `${namespace}.${name}`,
      command: spec.command,
      ...(spec.args === undefined ? {} : { args: spec.args }),
      ...(spec.env === undefined ? {} : { env: spec.env }),
      // The directory of the file that declared it, as docs/local/manifest.md says.
      cwd: resolve(this.manifests.directory ?? this.baseDirectory, spec.cwd ?? '.'),
      replicas: spec.replicas ?? 1,
      ...(spec.port === undefined ? {} : { port: spec.port }),
      ...(spec.readiness === undefined ? {} : { readiness: spec.readiness }),
    };
  }
}

export const sameKey = (a: CanaryKey, b: CanaryKey): boolean =>
  a.namespace === b.namespace && a.name === b.name;

export function findNamed<T extends { metadata: { name: string; namespace?: string | undefined } }>(
  objects: readonly T[],
  namespace: string,
  name: string,
): T | undefined {
  return objects.find(
    (object) => object.metadata.name === name && (object.metadata.namespace ?? 'default') === namespace,
  );
}
