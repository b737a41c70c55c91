import { describe, expect, it } from 'vitest';
import type { NotifierLogEntry } from './notifier.js';
import { failedCanaryMessage, noSleep, recordingServers } from '../../test/support/recording-server.js';
import { createSlackNotifier, slackPayload } from './slack.js';

const server = recordingServers();

const settings = (address: string, extra: object = {}) => ({
  id: 'test/slack',
  type: 'slack',
  address,
  channel: 'general',
  username: 'flagger',
  ...extra,
});

describe('slack notifier', () => {
  it("POSTs Flagger's Slack body to the webhook", async () => {
    const hook = await server();
    await createSlackNotifier(settings(`${hook.url}/services/T/B/X`)).send(failedCanaryMessage);
    const [request] = hook.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/services/T/B/X' });
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers.authorization).toBeUndefined();
    expect(JSON.parse(request!.body)).toEqual({
      channel: 'general',
      username: 'flagger',
      icon_emoji: ':rocket:',
      attachments: [
        {
          color: 'danger',
          author_name: 'podinfo.test',
          text: 'Failed checks threshold reached 5',
          mrkdwn_in: ['text'],
          fields: [
            { title: 'Target', value: 'Deployment/podinfo.test', short: false },
            { title: 'Failed checks threshold', value: '5', short: false },
          ],
        },
      ],
    });
  });

  it('sends the Secret token as a bearer token (chat.postMessage)', async () => {
    const hook = await server();
    await createSlackNotifier(settings(`${hook.url}/api/chat.postMessage`, { token: 'xoxb-1' })).send(
      failedCanaryMessage,
    );
    expect(hook.requests[0]!.headers.authorization).toBe('Bearer xoxb-1');
  });

  it('colours only error messages danger: warnings stay good, as in Flagger', () => {
    const colour = (severity: 'info' | 'warn' | 'error') =>
      slackPayload({ ...failedCanaryMessage, severity }, settings('http://x')).attachments[0]!.color;
    expect([colour('info'), colour('warn'), colour('error')]).toEqual(['good', 'good', 'danger']);
  });

  it('never throws: after the retries it logs one line without the URL and reports the failure', async () => {
    const hook = await server(() => ({ status: 500, body: 'https://hooks.example/SECRET' }));
    const logs: NotifierLogEntry[] = [];
    const notifier = createSlackNotifier(settings(`${hook.url}/services/SECRET`), {
      log: (entry) => logs.push(entry),
      transport: { sleep: noSleep },
    });
    await expect(notifier.send(failedCanaryMessage)).resolves.toBe(false);
    expect(hook.requests).toHaveLength(3);
    expect(logs).toEqual([
      {
        level: 'error',
        msg: 'alert not delivered',
        provider: 'test/slack',
        providerType: 'slack',
        status: 500,
        attempts: 3,
      },
    ]);
    expect(JSON.stringify(logs)).not.toContain('SECRET');
  });

  it('survives a log sink that throws', async () => {
    const hook = await server(() => ({ status: 400 }));
    const notifier = createSlackNotifier(settings(hook.url), {
      log: () => {
        throw new Error('sink down');
      },
    });
    await expect(notifier.send(failedCanaryMessage)).resolves.toBe(false);
  });
});
