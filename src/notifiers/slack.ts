/**
 * Slack incoming webhooks and `chat.postMessage` (docs/flagger-compatibility.md#7-alerts): one attachment coloured `good`,
 * or `danger` for error messages only (Flagger's rule: warnings stay green), the fields as
 * long (`short: false`) attachment fields. With a Secret `token`, the address is usually
 * `https://slack.com/api/chat.postMessage` and the token goes in `Authorization: Bearer`.
 */
import type { AlertMessage } from '../engine/ports.js';
import {
  HttpChatNotifier,
  subjectOf,
  type ChatNotifier,
  type NotifierDeps,
  type ProviderSettings,
} from './notifier.js';

export interface SlackColours {
  readonly ok: string;
  readonly error: string;
}

export const SLACK_COLOURS: SlackColours = { ok: 'good', error: 'danger' };

export interface SlackPayload {
  readonly channel: string;
  readonly username: string;
  readonly icon_emoji: string;
  readonly attachments: readonly {
    readonly color: string;
    readonly author_name: string;
    readonly text: string;
    readonly mrkdwn_in: readonly string[];
    readonly fields: readonly { readonly title: string; readonly value: string; readonly short: boolean }[];
  }[];
}

/** The Slack body, shared with Discord (Slack-compatible endpoint) and Rocket.Chat. */
export function slackPayload(
  message: AlertMessage,
  settings: Pick<ProviderSettings, 'channel' | 'username'>,
  colours: SlackColours = SLACK_COLOURS,
): SlackPayload {
  return {
    channel: settings.channel,
    username: settings.username,
    icon_emoji: ':rocket:',
    attachments: [
      {
        color: message.severity === 'error' ? colours.error : colours.ok,
        author_name: subjectOf(message),
        text: message.text,
        mrkdwn_in: ['text'],
        fields: message.fields.map(([title, value]) => ({ title, value, short: false })),
      },
    ],
  };
}

export function createSlackNotifier(settings: ProviderSettings, deps?: NotifierDeps): ChatNotifier {
  const headers =
    settings.token === undefined || settings.token === ''
      ? undefined
      : { authorization: `Bearer ${settings.token}` };
  return new HttpChatNotifier(
    settings,
    (message) => ({ url: settings.address, body: slackPayload(message, settings), headers }),
    deps,
  );
}
