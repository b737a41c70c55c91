/**
 * `vireo alert test -f alertprovider.yaml`: sends one test message through an AlertProvider and
 * prints what the chat service answered, so a webhook URL can be checked before a canary needs
 * it. The file is validated first, as `vireo validate` would. Secrets come from a manifest file
 * (`--secret-file`) or the cluster of a kubeconfig.
 */
import type { AlertProvider } from '../api/schema/alert-provider.js';
import { loadSchemaValidator } from '../api/load-validator.js';
import type { AlertMessage, AlertSeverity } from '../engine/ports.js';
import { ChatNotifierFactory } from '../notifiers/factory.js';
import type { TransportOptions } from '../notifiers/transport.js';
import { UnreadableInputError, UsageError, VireoError } from '../shared/errors.js';
import { manifestsIn } from '../shared/manifests.js';
import { formatText } from '../validate/format.js';
import { readInputs } from '../validate/inputs.js';
import { exitCodeOf, validateInputs } from '../validate/validate.js';
import type { CliIo } from './main.js';
import { openSecretSource, readNamedSecret } from './secret-source.js';

export const DEFAULT_TEST_MESSAGE = 'Test alert from Vireo: this AlertProvider works.';
export const ALERT_SEVERITIES: readonly AlertSeverity[] = ['info', 'warn', 'error'];

export interface AlertTestOptions {
  readonly file: string;
  readonly severity?: string | undefined;
  readonly message?: string | undefined;
  readonly secretFile?: string | undefined;
  readonly kubeconfig?: string | undefined;
  readonly context?: string | undefined;
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
  const report = validateInputs(inputs, { validator: await loadSchemaValidator() });
  const verdict = exitCodeOf(report);
  if (verdict !== 0) {
    io.stderr(`vireo alert test: ${options.file} is not a valid AlertProvider:\n${formatText(report)}`);
    return verdict;
  }

  const provider = theAlertProvider(options.file, inputs.texts.map((input) => input.text).join('\n---\n'));
  const secret = await providerSecret(provider, options, io);
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

/** The Secret named by `secretRef`, from --secret-file or the kubeconfig's cluster; undefined without a secretRef. */
async function providerSecret(
  provider: AlertProvider,
  options: AlertTestOptions,
  io: CliIo,
): Promise<Record<string, string> | undefined> {
  const secretName = provider.spec.secretRef?.name;
  const namespace = provider.metadata.namespace ?? 'default';
  const providerName = `AlertProvider ${namespace}/${provider.metadata.name}`;
  if (secretName === undefined) {
    if (options.secretFile !== undefined) {
      io.stderr(`vireo alert test: ignoring --secret-file: ${providerName} has no secretRef\n`);
    }
    return undefined;
  }
  const source = await openSecretSource(options, (line) => io.stderr(`vireo alert test: ${line}\n`));
  const secret = await readNamedSecret(source, namespace, secretName, providerName);
  if (secret['address'] === undefined || secret['address'] === '') {
    throw new VireoError(
      'E_SECRET_KEY',
      `the Secret "${secretName}" (${source.description}) has no "address" key: ${providerName} reads its webhook URL from it`,
    );
  }
  return { ...secret };
}
