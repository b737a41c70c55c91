import { describe, expect, it } from 'vitest';
import { createDiscordNotifier, discordSlackUrl } from './discord.js';
import { failedCanaryMessage, recordingServers } from '../../test/support/recording-server.js';

const server = recordingServers(() => ({ status: 200 }));

describe('discord notifier', () => {
  it('POSTs the Slack body to the webhook URL plus /slack', async () => {
    const hook = await server();
    const settings = {
      id: 't/d',
      type: 'discord',
      address: `${hook.url}/api/webhooks/1/tok`,
      channel: 'general',
      username: 'flagger',
    };
    await createDiscordNotifier(settings).send(failedCanaryMessage);
    const [request] = hook.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/api/webhooks/1/tok/slack' });
    expect(request!.headers['content-type']).toBe('application/json');
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

  it('leaves a URL already ending in /slack alone and keeps the query', () => {
    expect(discordSlackUrl('https://discord.com/api/webhooks/1/tok/slack')).toBe(
      'https://discord.com/api/webhooks/1/tok/slack',
    );
    expect(discordSlackUrl('https://discord.com/api/webhooks/1/tok/?thread_id=9')).toBe(
      'https://discord.com/api/webhooks/1/tok/slack?thread_id=9',
    );
  });
});
