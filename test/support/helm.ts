/**
 * `helm` for the chart tests: the binary tools/build-helm.sh builds into .cache/helm/bin (or
 * $VIREO_HELM_BIN), run with its own cache, config and data directories so that a test never reads
 * or writes the user's helm settings.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

export const REPOSITORY = join(import.meta.dirname, '..', '..');
export const HELM =
  process.env['VIREO_HELM_BIN'] ??
  join(process.env['VIREO_HELM_BIN_DIR'] ?? join(REPOSITORY, '.cache', 'helm', 'bin'), 'helm');
/** helm 3, built beside helm 4 by tools/build-helm.sh: Flagger users run either. */
export const HELM3 = join(
  process.env['VIREO_HELM_BIN_DIR'] ?? join(REPOSITORY, '.cache', 'helm', 'bin'),
  'helm3',
);
export const VIREO_CHART = join(REPOSITORY, 'charts', 'vireo');
export const LOADTESTER_CHART = join(REPOSITORY, 'charts', 'loadtester');

const home = mkdtempSync(join(tmpdir(), 'vireo-helm-home-'));

export class HelmError extends Error {
  constructor(
    readonly args: readonly string[],
    readonly stderr: string,
    readonly stdout: string,
  ) {
    super(`helm ${args.join(' ')} failed: ${stderr.trim() || stdout.trim()}`);
    this.name = 'HelmError';
  }
}

export function assertHelmBuilt(binary = HELM): void {
  if (!existsSync(binary))
    throw new Error(
      `${binary} is missing: build it with "bash tools/build-helm.sh" (scripts/test-all.sh does)`,
    );
}

export async function helm(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  binary = HELM,
): Promise<string> {
  assertHelmBuilt(binary);
  try {
    const { stdout } = await promisify(execFile)(binary, [...args], {
      cwd: REPOSITORY,
      maxBuffer: 64 * 1024 * 1024,
      env: {
        ...process.env,
        HELM_CACHE_HOME: join(home, 'cache'),
        HELM_CONFIG_HOME: join(home, 'config'),
        HELM_DATA_HOME: join(home, 'data'),
        ...env,
      },
    });
    return stdout;
  } catch (error) {
    const failed = error as { stderr?: string; stdout?: string };
    throw new HelmError(args, failed.stderr ?? String(error), failed.stdout ?? '');
  }
}

export interface RenderedObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  [field: string]: any;
}

/** `helm template` parsed into objects (empty documents dropped). */
export async function template(
  chart: string,
  args: readonly string[] = [],
  release = 'vireo',
  namespace = 'vireo-system',
  binary = HELM,
): Promise<RenderedObject[]> {
  const output = await helm(['template', release, chart, '--namespace', namespace, ...args], {}, binary);
  return parseAllDocuments(output)
    .map((document) => {
      if (document.errors.length > 0)
        throw new Error(`helm template printed invalid YAML: ${document.errors[0]}`);
      return document.toJS() as RenderedObject | null;
    })
    .filter((object): object is RenderedObject => object !== null && typeof object === 'object');
}

export function find(objects: readonly RenderedObject[], kind: string, name?: string): RenderedObject {
  const found = objects.find(
    (object) => object.kind === kind && (name === undefined || object.metadata.name === name),
  );
  if (found === undefined)
    throw new Error(
      `no ${kind}${name === undefined ? '' : `/${name}`} among ${objects.map((object) => `${object.kind}/${object.metadata.name}`).join(', ')}`,
    );
  return found;
}

/** The controller container of the chart's Deployment. */
export function controllerContainer(objects: readonly RenderedObject[]): any {
  const deployment = objects.find(
    (object) => object.kind === 'Deployment' && object.spec.template.spec.containers[0].name === 'vireo',
  );
  if (deployment === undefined) throw new Error('no vireo Deployment rendered');
  return deployment.spec.template.spec.containers[0];
}
