/**
 * Local-mode manifests for tests: one Canary `web` in namespace `test` releasing one Workload
 * that runs Vireo's demo service from source (through tsx), and a helper to wait on a runtime.
 */
import { join } from 'node:path';
import type { Canary } from '../../src/api/schema/canary.js';
import { LOCAL_WORKLOAD_API_VERSION, type LocalManifests } from '../../src/platforms/local/manifest.js';

const repository = join(import.meta.dirname, '..', '..');

export interface DemoServiceManifestOptions {
  readonly port: number;
  readonly env: Readonly<Record<string, string>>;
  readonly analysis: Canary['spec']['analysis'];
  readonly router?: 'builtin' | 'nginx';
}

export function demoServiceManifests(options: DemoServiceManifestOptions): LocalManifests {
  const canary = {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'Canary',
    metadata: { name: 'web', namespace: 'test' },
    spec: {
      targetRef: { apiVersion: LOCAL_WORKLOAD_API_VERSION, kind: 'Workload', name: 'web' },
      service: { port: options.port },
      analysis: options.analysis,
    },
  } as Canary;
  return {
    canaries: [canary],
    workloads: [
      {
        apiVersion: LOCAL_WORKLOAD_API_VERSION,
        kind: 'Workload',
        metadata: { name: 'web', namespace: 'test' },
        spec: {
          command: process.execPath,
          args: ['--import', 'tsx', join(repository, 'src/platforms/local/demo-service-main.ts')],
          env: { ...options.env },
          replicas: 1,
          readiness: { httpPath: '/readyz', periodMs: 100 },
          ...(options.router === undefined ? {} : { router: options.router }),
        },
      },
    ],
    metricTemplates: [],
    alertProviders: [],
    secrets: new Map(),
  };
}

export async function until(condition: () => boolean, limitMs: number, what: string): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
