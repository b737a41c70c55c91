/**
 * Secrets from a manifest file (`--secret-file`), e.g. `kubectl get secret x -o yaml > x.yaml`.
 * A file with one Secret answers for any name (with a warning when the names differ, since the
 * file was passed on purpose); a file with several answers by name.
 */
import { UnreadableInputError } from '../shared/errors.js';
import { readManifestFile } from '../shared/text-input.js';
import { identityOf, manifestsIn, type Manifest } from '../shared/manifests.js';
import { decodeSecretData, SecretNotFoundError, type SecretReader } from './secret-reader.js';

export class FileSecretReader implements SecretReader {
  private constructor(
    private readonly file: string,
    private readonly secrets: readonly Manifest[],
    private readonly warn: (line: string) => void,
  ) {}

  static async load(file: string, warn: (line: string) => void = () => {}): Promise<FileSecretReader> {
    let text: string;
    try {
      text = await readManifestFile(file);
    } catch (cause) {
      const code = (cause as { code?: string }).code;
      const reason =
        code === 'ENOENT'
          ? 'no such file or directory'
          : cause instanceof Error
            ? cause.message
            : String(cause);
      throw new UnreadableInputError(`--secret-file ${file}: cannot read: ${reason}`);
    }
    let manifests: Manifest[];
    try {
      manifests = manifestsIn(text);
    } catch (cause) {
      // The message quotes no source text (see manifestsIn): a Secret's lines are its values.
      const reason = cause instanceof Error ? cause.message : 'invalid YAML';
      throw new UnreadableInputError(`--secret-file ${file}: cannot parse: ${reason}`);
    }
    const secrets = manifests.filter((manifest) => manifest['kind'] === 'Secret');
    if (secrets.length === 0) throw new UnreadableInputError(`--secret-file ${file}: holds no Secret`);
    return new FileSecretReader(file, secrets, warn);
  }

  read(namespace: string, name: string): Promise<Readonly<Record<string, string>>> {
    const named = this.secrets.filter((secret) => identityOf(secret).name === name);
    const exact = named.find((secret) => (identityOf(secret).namespace ?? namespace) === namespace);
    const only = this.secrets.length === 1 ? this.secrets[0] : undefined;
    const chosen = exact ?? named[0] ?? only;
    if (chosen === undefined) {
      const names = this.secrets.map((secret) => identityOf(secret).name ?? '(unnamed)').join(', ');
      return Promise.reject(
        new SecretNotFoundError(`--secret-file ${this.file} has no Secret "${name}" (it holds: ${names})`),
      );
    }
    const found = identityOf(chosen).name;
    if (found !== name) {
      this.warn(
        `warning: ${this.file} holds the Secret "${found ?? '(unnamed)'}", the manifest refers to "${name}"; using it`,
      );
    }
    return Promise.resolve(decodeSecretData(chosen));
  }
}
