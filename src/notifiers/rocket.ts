/**
 * Rocket.Chat incoming webhooks accept Slack's body; Flagger sends it with hex colours
 * (`#0076D7`, `#FF0000` for errors) because Rocket.Chat does not know Slack's named ones.
 */
import { HttpChatNotifier, type ChatNotifier, type NotifierDeps, type ProviderSettings } from './notifier.js';
import { slackPayload, type SlackColours } from './slack.js';

export const ROCKET_COLOURS: SlackColours = { ok: '#0076D7', error: '#FF0000' };

export function createRocketNotifier(settings: ProviderSettings, deps?: NotifierDeps): ChatNotifier {
  return new HttpChatNotifier(
    settings,
    (message) => ({ url: settings.address, body: slackPayload(message, settings, ROCKET_COLOURS) }),
    deps,
  );
}
