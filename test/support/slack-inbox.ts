/**
 * A stand-in for a Slack incoming webhook, for the traffic suites (docs/testing-traffic.md): a
 * recording server on loopback inside the network namespace, the AlertProvider pointing at it,
 * and the messages it received as a user would read them in the channel.
 */
import type { KubeObject } from '../../src/platforms/kubernetes/client.js';
import { startRecordingServer, type RecordingServer } from './recording-server.js';

export interface SlackMessage {
  /** The attachment's author line: `<canary>.<namespace>`. */
  readonly subject: string;
  readonly text: string;
  /** `danger` for errors, `good` otherwise. */
  readonly color: string;
  readonly channel: string;
  readonly fields: Readonly<Record<string, string>>;
}

export interface SlackInbox {
  readonly url: string;
  /** Every message received so far, in order. */
  messages(): SlackMessage[];
  close(): Promise<void>;
}

interface SlackBody {
  channel?: string;
  attachments?: {
    author_name?: string;
    text?: string;
    color?: string;
    fields?: { title: string; value: string }[];
  }[];
}

export async function startSlackInbox(): Promise<SlackInbox> {
  const server: RecordingServer = await startRecordingServer();
  return {
    url: server.url,
    messages: () =>
      server.requests.map((request) => {
        const body = JSON.parse(request.body) as SlackBody;
        const attachment = body.attachments?.[0] ?? {};
        return {
          subject: attachment.author_name ?? '',
          text: attachment.text ?? '',
          color: attachment.color ?? '',
          channel: body.channel ?? '',
          fields: Object.fromEntries((attachment.fields ?? []).map((field) => [field.title, field.value])),
        };
      }),
    close: () => server.close(),
  };
}

/** An AlertProvider of type slack posting to the inbox, channel `deploys`. */
export function slackAlertProvider(namespace: string, inbox: SlackInbox): KubeObject {
  return {
    metadata: { name: 'on-call', namespace },
    spec: { type: 'slack', channel: 'deploys', username: 'vireo', address: inbox.url },
  };
}

/** The Canary's `analysis.alerts` entry: error messages (rollbacks, failed promotions) only. */
export const ON_CALL_ERRORS = { name: 'on-call', severity: 'error', providerRef: { name: 'on-call' } };
