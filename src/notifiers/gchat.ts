/**
 * Google Chat incoming webhooks, with Flagger's cards v1 body (docs/flagger-compatibility.md#7-alerts): a header naming
 * the sender and the canary, then one text paragraph for the message and one per field. The
 * header says "Vireo" where Flagger says "Flagger" (the shape is unchanged); the image is
 * Flagger's icon, which renders in Chat and which users of Flagger's alerts will recognise.
 */
import type { AlertMessage } from '../engine/ports.js';
import {
  HttpChatNotifier,
  subjectOf,
  type ChatNotifier,
  type NotifierDeps,
  type ProviderSettings,
} from './notifier.js';

export const GCHAT_TITLE = 'Vireo';
export const GCHAT_IMAGE_URL = 'https://flagger.app/favicon.png';

/** Chat renders a small HTML subset in text paragraphs: text from users must not become markup. */
function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

const paragraph = (text: string) => ({ widgets: [{ textParagraph: { text } }] });
const grey = (text: string) => `<font color=#848484><strong>${escapeHtml(text)}</strong></font>`;

export function gchatPayload(message: AlertMessage): object {
  return {
    cards: [
      {
        header: { title: GCHAT_TITLE, subtitle: subjectOf(message), imageUrl: GCHAT_IMAGE_URL },
        sections: [
          paragraph(grey(message.text)),
          ...message.fields.map(([name, value]) => paragraph(`${escapeHtml(name)}<br>${grey(value)}`)),
        ],
      },
    ],
  };
}

export function createGChatNotifier(settings: ProviderSettings, deps?: NotifierDeps): ChatNotifier {
  return new HttpChatNotifier(
    settings,
    (message) => ({ url: settings.address, body: gchatPayload(message) }),
    deps,
  );
}
