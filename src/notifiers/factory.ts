/**
 * Builds chat notifiers from AlertProviders (docs/flagger-compatibility.md#16-metrictemplate-and-alertprovider, docs/flagger-compatibility.md#7-alerts): resolves the address (the
 * Secret's `address` wins over `spec.address`), Flagger's defaults for channel and username,
 * and picks the implementation by `spec.type`.
 *
 * Errors name the provider, never the URL: the AlertRouter logs them, and a webhook URL is a
 * credential.
 */
import type { AlertProvider } from '../api/schema/alert-provider.js';
import type { NotifierFactory } from '../engine/ports.js';
import { VireoError } from '../shared/errors.js';
import { createDiscordNotifier } from './discord.js';
import { createGChatNotifier } from './gchat.js';
import { createGenericNotifier } from './generic.js';
import { createMSTeamsNotifier } from './msteams.js';
import type { ChatNotifier, NotifierDeps, ProviderSettings } from './notifier.js';
import { createRocketNotifier } from './rocket.js';
import { createSlackNotifier } from './slack.js';

/** Flagger's defaults: alerts keep landing where they did and under the name users filter on. */
export const DEFAULT_CHANNEL = 'general';
export const DEFAULT_USERNAME = 'flagger';

type CreateNotifier = (settings: ProviderSettings, deps?: NotifierDeps) => ChatNotifier;

const IMPLEMENTATIONS: Readonly<Record<string, CreateNotifier>> = {
  slack: createSlackNotifier,
  msteams: createMSTeamsNotifier,
  discord: createDiscordNotifier,
  rocket: createRocketNotifier,
  gchat: createGChatNotifier,
  // Vireo only: the AlertProvider schema's enum does not list it yet.
  generic: createGenericNotifier,
};

export const NOTIFIER_TYPES: readonly string[] = Object.keys(IMPLEMENTATIONS);

export class UnknownNotifierError extends VireoError {
  constructor(type: string | undefined, provider: string) {
    super(
      'E_UNKNOWN_NOTIFIER',
      `AlertProvider ${provider}: unknown type ${JSON.stringify(type ?? '')}; known types: ${NOTIFIER_TYPES.join(', ')}`,
    );
  }
}

export class NotifierAddressError extends VireoError {
  constructor(provider: string, problem: string) {
    super('E_NOTIFIER_ADDRESS', `AlertProvider ${provider}: ${problem}`);
  }
}

export class ChatNotifierFactory implements NotifierFactory {
  constructor(private readonly deps: NotifierDeps = {}) {}

  forProvider(provider: AlertProvider, secret: Record<string, string> | undefined): ChatNotifier {
    const id = `${provider.metadata.namespace ?? 'default'}/${provider.metadata.name}`;
    const type: string | undefined = provider.spec.type;
    const create = type === undefined ? undefined : IMPLEMENTATIONS[type];
    if (type === undefined || create === undefined) throw new UnknownNotifierError(type, id);
    return create(resolveSettings(id, type, provider, secret), this.deps);
  }
}

export function resolveSettings(
  id: string,
  type: string,
  provider: AlertProvider,
  secret: Record<string, string> | undefined,
): ProviderSettings {
  const { spec } = provider;
  const address = nonEmpty(secret?.['address']) ?? nonEmpty(spec.address);
  if (address === undefined) {
    throw new NotifierAddressError(
      id,
      spec.secretRef === undefined
        ? 'no address: set spec.address'
        : `no address: the Secret ${spec.secretRef.name} has no "address" key and spec.address is empty`,
    );
  }
  if (!isHttpUrl(address)) {
    const source = nonEmpty(secret?.['address']) === undefined ? 'spec.address' : 'the Secret\'s "address"';
    throw new NotifierAddressError(id, `${source} is not an http(s) URL`);
  }
  if (spec.proxy !== undefined && spec.proxy !== '' && !isHttpUrl(spec.proxy)) {
    throw new NotifierAddressError(id, 'spec.proxy is not an http(s) URL');
  }
  return {
    id,
    type,
    address,
    channel: nonEmpty(spec.channel) ?? DEFAULT_CHANNEL,
    username: nonEmpty(spec.username) ?? DEFAULT_USERNAME,
    proxy: nonEmpty(spec.proxy),
    token: nonEmpty(secret?.['token']),
  };
}

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value === '' ? undefined : value;

function isHttpUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === 'http:' || protocol === 'https:';
  } catch {
    return false;
  }
}
