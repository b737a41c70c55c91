/**
 * Discord, through its Slack-compatible endpoint: the Slack body POSTed to the webhook URL plus
 * `/slack` (docs/flagger-compatibility.md#7-alerts), which Discord renders as an embed. A URL already ending in `/slack`
 * is left alone, as Flagger does, so either form of the URL works.
 */
import { HttpChatNotifier, type ChatNotifier, type NotifierDeps, type ProviderSettings } from './notifier.js';
import { slackPayload } from './slack.js';

/** The webhook URL with `/slack` appended to its path; the query (`?thread_id=`) is kept. */
export function discordSlackUrl(address: string): string {
  const url = new URL(address);
  if (!url.pathname.endsWith('/slack')) url.pathname = `${url.pathname.replace(/\/+$/, '')}/slack`;
  return url.href;
}

export function createDiscordNotifier(settings: ProviderSettings, deps?: NotifierDeps): ChatNotifier {
  const url = discordSlackUrl(settings.address);
  return new HttpChatNotifier(settings, (message) => ({ url, body: slackPayload(message, settings) }), deps);
}
