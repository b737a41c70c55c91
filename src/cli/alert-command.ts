/**
 * `vireo alert test -f alertprovider.yaml`: sends one test message through an AlertProvider and
 * prints what the chat service answered, so a webhook URL can be checked before a canary needs
 * it. The file is validated first, as `vireo validate` would. Secrets come from a manifest file
 * (`--secret-file`); reading them from a cluster is not supported yet.
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments } from 'yaml';
import type { AlertProvider } from '../api/schema/alert-provider.js';
import { SchemaValidator } from '../api/validation.js';
import type { AlertMessage, AlertSeverity } from '../engine/ports.js';
import { ChatNotifierFactory } from '../notifiers/factory.js';
import type { TransportOptions } from '../notifiers/transport.js';
import { UnreadableInputError, UsageError, VireoError } from '../shared/errors.js';
import { formatText } from '../validate/format.js';
import { readInputs } from '../validate/inputs.js';
import { exitCodeOf, validateInputs } from '../validate/validate.js';
import type { CliIo } from './main.js';

export const DEFAULT_TEST_MESSAGE = 'Test alert from Vireo: this AlertProvider works.';
export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['info', 'warn', 'error'];

export interface AlertTestOptions {
  readonly file: string;
  readonly severity?: string | undefined;
  readonly message?: string | undefined;
  readonly secretFile?: string | undefined;
}

export interface AlertTestDeps {
  /** Tests shorten the timeout; the command itself makes one attempt. */
  readonly transport?: TransportOptions;
}

/** The made-up canary the test message is about, with the fields a real alert carries. */
export function testMessage(severity: AlertSeverity, text: string): AlertMessage {
  return {
    canary: { name: 'podinfo', namespace: 'test' },
    target: 'Deployment/podinfo.test',
    severity,
    text,
    fields: [
      ['Target', 'Deployment/podinfo.test'],
      ['Failed checks threshold', '5'],
      ['Progress deadline', '600s'],
      ['Traffic routing', 'Weight step: 10 max: 50'],
    ],
  };
}

export async function runAlertTest(
  options: AlertTestOptions,
  io: CliIo,
  deps: AlertTestDeps = {},
): Promise<number> {
  const severity = parseSeverity(options.severity);
  const inputs = await readInputs([options.file], io.readStdin);
  const unreadable = inputs.unreadable[0];
  if (unreadable !== undefined) {
    throw new UnreadableInputError(`${unreadable.file}: cannot read: ${unreadable.reason}`);
  }
  const report = validateInputs(inputs, { validator: await SchemaValidator.load() });
  const verdict = exitCodeOf(report);
  if (verdict !== 0) {
    io.stderr(`vireo alert test: ${options.file} is not a valid AlertProvider:\n${formatText(report)}`);
    return verdict;
  }

  const provider = theAlertProvider(options.file, inputs.texts.map((input) => input.text).join('\n---\n'));
  const secret = await providerSecret(provider, options.secretFile, io);
  // One attempt: a test message is about seeing the first answer, and retries could post twice.
  const factory = new ChatNotifierFactory({ transport: { attempts: 1, ...deps.transport } });
  const notifier = factory.forProvider(provider, secret);
  const result = await notifier.deliver(testMessage(severity, options.message ?? DEFAULT_TEST_MESSAGE));

  const subject = `AlertProvider ${provider.metadata.namespace ?? 'default'}/${provider.metadata.name} (${notifier.providerType})`;
  if (result.status === 0) {
    io.stderr(`vireo alert test: ${subject}: no answer: ${result.error ?? 'unknown error'}\n`);
    return 1;
  }
  const output = result.ok ? io.stdout : io.stderr;
  output(`${subject}: HTTP ${result.status}\n`);
  if (result.body !== '') output(`${result.body.replace(/\n?$/, '\n')}`);
  return result.ok ? 0 : 1;
}

function parseSeverity(text: string | undefined): AlertSeverity {
  if (text === undefined) return 'info';
  if ((ALERT_SEVERITIES as readonly string[]).includes(text)) return text as AlertSeverity;
  throw new UsageError(`--severity ${JSON.stringify(text)}: use one of ${ALERT_SEVERITIES.join(', ')}`);
}

/** The only AlertProvider in the (already validated) text. */
function theAlertProvider(file: string, text: string): AlertProvider {
  const providers = manifestsIn(text).filter((object) => object['kind'] === 'AlertProvider');
  if (providers.length !== 1) {
    throw new UsageError(
      `${file} holds ${providers.length} AlertProviders: put the one to test in a file of its own`,
    );
  }
  return providers[0] as unknown as AlertProvider;
}

function manifestsIn(text: string): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  for (const document of parseAllDocuments(text)) {
    const value: unknown = document.toJS({ maxAliasCount: 100 });
    if (!isRecord(value)) continue;
    if (
      typeof value['kind'] === 'string' &&
      value['kind'].endsWith('List') &&
      Array.isArray(value['items'])
    ) {
      objects.push(...(value['items'] as unknown[]).filter(isRecord));
    } else {
      objects.push(value);
    }
  }
  return objects;
}

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The Secret named by `secretRef`, read from `--secret-file`; undefined without a secretRef. */
async function providerSecret(
  provider: AlertProvider,
  secretFile: string | undefined,
  io: CliIo,
): Promise<Record<string, string> | undefined> {
  const secretName = provider.spec.secretRef?.name;
  const providerName = `${provider.metadata.namespace ?? 'default'}/${provider.metadata.name}`;
  if (secretName === undefined) {
    if (secretFile !== undefined) {
      io.stderr(`vireo alert test: ignoring --secret-file: AlertProvider ${providerName} has no secretRef\n`);
    }
    return undefined;
  }
  if (secretFile === undefined) {
    throw new VireoError(
      'E_SECRET_REQUIRED',
      `AlertProvider ${providerName} reads its address from the Secret "${secretName}": pass that Secret's manifest with --secret-file FILE (reading Secrets from a cluster is not supported yet)`,
    );
  }
  const secret = await readSecretManifest(secretFile);
  if (secret.name !== undefined && secret.name !== secretName) {
    io.stderr(
      `vireo alert test: warning: ${secretFile} holds the Secret "${secret.name}", the AlertProvider refers to "${secretName}"\n`,
    );
  }
  if (secret.data['address'] === undefined || secret.data['address'] === '') {
    throw new VireoError(
      'E_SECRET_KEY',
      `the Secret in ${secretFile} has no "address" key: AlertProvider ${providerName} reads its webhook URL from it`,
    );
  }
  return secret.data;
}

/** A Secret manifest (YAML or JSON): `data` is base64, `stringData` is plain and wins, as in Kubernetes. */
async function readSecretManifest(file: string): Promise<{ name?: string; data: Record<string, string> }> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (cause) {
    const reason =
      (cause as { code?: string }).code === 'ENOENT' ? 'no such file or directory' : String(cause);
    throw new UnreadableInputError(`--secret-file ${file}: cannot read: ${reason}`);
  }
  let secret: Record<string, unknown> | undefined;
  try {
    secret = manifestsIn(text).find((object) => object['kind'] === 'Secret');
  } catch (cause) {
    throw new UnreadableInputError(`--secret-file ${file}: cannot parse: ${String(cause)}`);
  }
  if (secret === undefined) throw new UnreadableInputError(`--secret-file ${file}: holds no Secret`);
  const data: Record<string, string> = {};
  for (const [key, value] of Object.entries(isRecord(secret['data']) ? secret['data'] : {})) {
    if (typeof value === 'string') data[key] = Buffer.from(value, 'base64').toString('utf8');
  }
  for (const [key, value] of Object.entries(isRecord(secret['stringData']) ? secret['stringData'] : {})) {
    if (typeof value === 'string') data[key] = value;
  }
  const metadata = isRecord(secret['metadata']) ? secret['metadata'] : {};
  const name = typeof metadata['name'] === 'string' ? metadata['name'] : undefined;
  return name === undefined ? { data } : { name, data };
}
