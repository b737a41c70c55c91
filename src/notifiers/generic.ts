/**
 * A Vireo addition, not in Flagger: a plain JSON webhook for anything that is not a chat service
 * (an incident tool, a bot, a log collector). Flagger users use the `event` webhook for this, but
 * that one receives every event, without severity or the alert fields.
 */
import type { AlertMessage } from '../engine/ports.js';
import { HttpChatNotifier, type ChatNotifier, type NotifierDeps, type ProviderSettings } from './notifier.js';

export interface GenericPayload {
  readonly canary: { readonly name: string; readonly namespace: string };
  readonly target: string;
  readonly severity: string;
  readonly message: string;
  /** Title → value; JSON objects keep insertion order, so Flagger's field order survives. */
  readonly fields: Readonly<Record<string, string>>;
  /** RFC 3339 time the message was sent. */
  readonly time: string;
}

export function genericPayload(message: AlertMessage, now: Date): GenericPayload {
  return {
    canary: { name: message.canary.name, namespace: message.canary.namespace },
    target: message.target,
    severity: message.severity,
    message: message.text,
    fields: Object.fromEntries(message.fields),
    time: now.toISOString(),
  };
}

export function createGenericNotifier(settings: ProviderSettings, deps: NotifierDeps = {}): ChatNotifier {
  const now = deps.now ?? (() => new Date());
  return new HttpChatNotifier(
    settings,
    (message) => ({
      url: settings.address,
      body: genericPayload(message, now()),
      // Lets a receiver check the sender without a proxy in between; optional like Slack's.
      headers:
        settings.token === undefined || settings.token === ''
          ? undefined
          : { authorization: `Bearer ${settings.token}` },
    }),
    deps,
  );
}
