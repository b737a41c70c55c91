/**
 * Microsoft Teams, in two dialects chosen by the address:
 *
 * - Office 365 connector URLs (`*.webhook.office.com/webhookb2/…`) get Flagger's `MessageCard`
 *   (docs/flagger-compatibility.md#7-alerts), blue `0076D7` or red `FF0000` for errors.
 * - Microsoft retired those connectors; their replacement, a Workflows (Power Automate) flow
 *   "when a Teams webhook request is received", accepts Adaptive Cards only. Its URLs live on
 *   `*.logic.azure.com` or `*.powerplatform.com`, or have `/workflows/` in the path; they get the
 *   documented incoming-webhook wrapper: a `message` with one adaptive-card attachment.
 */
import type { AlertMessage } from '../engine/ports.js';
import {
  HttpChatNotifier,
  subjectOf,
  type ChatNotifier,
  type NotifierDeps,
  type ProviderSettings,
} from './notifier.js';

const WORKFLOW_HOST_SUFFIXES = ['.logic.azure.com', '.powerplatform.com'];

/** Whether the address is a Teams Workflows / Logic Apps trigger rather than a legacy connector. */
export function isTeamsWorkflowUrl(address: string): boolean {
  let url: URL;
  try {
    url = new URL(address);
  } catch {
    return false;
  }
  const host = url.hostname.toLowerCase();
  return (
    WORKFLOW_HOST_SUFFIXES.some((suffix) => host.endsWith(suffix)) ||
    url.pathname.toLowerCase().includes('/workflows/')
  );
}

export function messageCardPayload(message: AlertMessage): object {
  const subject = subjectOf(message);
  return {
    '@type': 'MessageCard',
    '@context': 'http://schema.org/extensions',
    themeColor: message.severity === 'error' ? 'FF0000' : '0076D7',
    summary: subject,
    sections: [
      {
        activityTitle: message.text,
        activitySubtitle: subject,
        facts: message.fields.map(([name, value]) => ({ name, value })),
      },
    ],
  };
}

export function adaptiveCardPayload(message: AlertMessage): object {
  return {
    type: 'message',
    attachments: [
      {
        contentType: 'application/vnd.microsoft.card.adaptive',
        content: {
          $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
          type: 'AdaptiveCard',
          version: '1.4',
          body: [
            {
              type: 'TextBlock',
              text: message.text,
              weight: 'Bolder',
              size: 'Medium',
              wrap: true,
              // The MessageCard's red theme, in the only colour vocabulary Adaptive Cards have.
              ...(message.severity === 'error' ? { color: 'Attention' } : {}),
            },
            { type: 'TextBlock', text: subjectOf(message), isSubtle: true, spacing: 'None', wrap: true },
            {
              type: 'FactSet',
              facts: message.fields.map(([title, value]) => ({ title, value })),
            },
          ],
        },
      },
    ],
  };
}

export function createMSTeamsNotifier(settings: ProviderSettings, deps?: NotifierDeps): ChatNotifier {
  const build = isTeamsWorkflowUrl(settings.address) ? adaptiveCardPayload : messageCardPayload;
  return new HttpChatNotifier(settings, (message) => ({ url: settings.address, body: build(message) }), deps);
}
