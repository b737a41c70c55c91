/**
 * Where `vireo alert test` and `vireo metrics query` read the Secrets their manifests name:
 * `--secret-file` first, else the cluster of `--kubeconfig` (or $KUBECONFIG), with `--context`.
 * Without either, a manifest that names a Secret is an error saying how to provide it.
 */
import { existsSync } from 'node:fs';
import type { KubeConfig } from '@kubernetes/client-node';
import { FileSecretReader } from '../secrets/file-secret-reader.js';
import type { SecretReader } from '../secrets/secret-reader.js';
import { UnreadableInputError, VireoError } from '../shared/errors.js';

export interface SecretSourceOptions {
  readonly secretFile?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
}

export interface SecretSource {
  /** Undefined when neither a file nor a kubeconfig was given. */
  readonly reader: SecretReader | undefined;
  /** The kubeconfig, when one was given (providers that query the cluster need it too). */
  readonly kubeConfig: KubeConfig | undefined;
  /** "--secret-file x.yaml" or "kubeconfig context ctx", for messages. */
  readonly description: string;
}

/** `$KUBECONFIG` may list several files; the first existing one is used, as kubectl merges them. */
function kubeconfigPath(options: SecretSourceOptions, environment: NodeJS.ProcessEnv): string | undefined {
  if (options.kubeconfig !== undefined) return options.kubeconfig;
  const fromEnvironment = environment['KUBECONFIG'];
  if (fromEnvironment === undefined || fromEnvironment === '') return undefined;
  return fromEnvironment.split(':').find((path) => path !== '' && existsSync(path));
}

/** client-node is imported only when a kubeconfig is used: it costs most of a second to load. */
export async function loadKubeConfig(path: string, context: string | undefined): Promise<KubeConfig> {
  const { KubeConfig } = await import('@kubernetes/client-node');
  const kubeConfig = new KubeConfig();
  try {
    kubeConfig.loadFromFile(path);
  } catch (cause) {
    throw new UnreadableInputError(
      `--kubeconfig ${path}: cannot load: ${cause instanceof Error ? cause.message : String(cause)}`,
    );
  }
  if (context !== undefined) {
    if (kubeConfig.getContextObject(context) === null) {
      const known = kubeConfig.getContexts().map((entry) => entry.name);
      throw new UnreadableInputError(
        `--context ${context}: no such context in ${path} (it has: ${known.join(', ') || 'none'})`,
      );
    }
    kubeConfig.setCurrentContext(context);
  }
  return kubeConfig;
}

export async function openSecretSource(
  options: SecretSourceOptions,
  warn: (line: string) => void,
  environment: NodeJS.ProcessEnv = process.env,
): Promise<SecretSource> {
  const path = kubeconfigPath(options, environment);
  const kubeConfig = path === undefined ? undefined : await loadKubeConfig(path, options.context);
  if (options.secretFile !== undefined) {
    return {
      reader: await FileSecretReader.load(options.secretFile, warn),
      kubeConfig,
      description: `--secret-file ${options.secretFile}`,
    };
  }
  if (kubeConfig !== undefined) {
    const { KubernetesSecretReader } = await import('../secrets/kubernetes-secret-reader.js');
    return {
      reader: new KubernetesSecretReader(kubeConfig),
      kubeConfig,
      description: `kubeconfig context "${kubeConfig.getCurrentContext()}"`,
    };
  }
  return { reader: undefined, kubeConfig: undefined, description: 'no Secret source' };
}

/** Reads a Secret a manifest names, or explains how to provide it. */
export async function readNamedSecret(
  source: SecretSource,
  namespace: string,
  name: string,
  owner: string,
): Promise<Readonly<Record<string, string>>> {
  if (source.reader === undefined) {
    throw new VireoError(
      'E_SECRET_REQUIRED',
      `${owner} reads credentials from the Secret "${name}": pass that Secret's manifest with --secret-file FILE, or a cluster with --kubeconfig FILE (or $KUBECONFIG)`,
    );
  }
  return source.reader.read(namespace, name);
}
