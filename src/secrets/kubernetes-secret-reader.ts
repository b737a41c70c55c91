/** Secrets read from the cluster through a kubeconfig (needs `get` on secrets in that namespace). */
import { ApiException, CoreV1Api, type KubeConfig } from '@kubernetes/client-node';
import {
  decodeSecretData,
  SecretAccessError,
  SecretNotFoundError,
  type SecretReader,
} from './secret-reader.js';

export class KubernetesSecretReader implements SecretReader {
  private readonly core: CoreV1Api;

  constructor(private readonly kubeConfig: KubeConfig) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async read(namespace: string, name: string): Promise<Readonly<Record<string, string>>> {
    try {
      const secret = await this.core.readNamespacedSecret({ name, namespace });
      return decodeSecretData(secret);
    } catch (cause) {
      const where = `Secret ${namespace}/${name}`;
      const context = this.kubeConfig.getCurrentContext();
      if (cause instanceof ApiException) {
        if (cause.code === 404) {
          throw new SecretNotFoundError(`${where} not found (kubeconfig context "${context}")`);
        }
        if (cause.code === 401 || cause.code === 403) {
          throw new SecretAccessError(
            `cannot read ${where}: HTTP ${cause.code}: the kubeconfig context "${context}" needs "get" on secrets in ${namespace} (or pass the Secret with --secret-file)`,
            { cause },
          );
        }
        throw new SecretAccessError(`cannot read ${where}: HTTP ${cause.code}`, { cause });
      }
      const message = cause instanceof Error ? cause.message : String(cause);
      throw new SecretAccessError(
        `cannot read ${where} from the cluster of context "${context}": ${message}`,
        {
          cause,
        },
      );
    }
  }
}
