/**
 * Where credentials come from: the Secrets that MetricTemplates and AlertProviders name. The
 * controller reads them from the cluster; the CLI from a kubeconfig or a manifest file.
 * Values are never logged nor put in error messages.
 */
import { VireoError } from '../shared/errors.js';

export interface SecretReader {
  /** The Secret's data, decoded (`stringData` wins over `data`, as in Kubernetes). */
  read(namespace: string, name: string): Promise<Readonly<Record<string, string>>>;
}

export class SecretNotFoundError extends VireoError {
  constructor(message: string) {
    super('E_SECRET_NOT_FOUND', message);
  }
}

export class SecretAccessError extends VireoError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_SECRET_ACCESS', message, options);
  }
}

/** Decodes a Secret object's `data` (base64) and `stringData` (plain). */
export function decodeSecretData(secret: { data?: unknown; stringData?: unknown }): Record<string, string> {
  const decoded: Record<string, string> = {};
  if (typeof secret.data === 'object' && secret.data !== null) {
    for (const [key, value] of Object.entries(secret.data)) {
      if (typeof value === 'string') decoded[key] = Buffer.from(value, 'base64').toString('utf8');
    }
  }
  if (typeof secret.stringData === 'object' && secret.stringData !== null) {
    for (const [key, value] of Object.entries(secret.stringData)) {
      if (typeof value === 'string') decoded[key] = value;
    }
  }
  return decoded;
}
