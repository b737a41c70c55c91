import { describe, expect, it } from 'vitest';
import { failedCanaryMessage, recordingServers } from '../../test/support/recording-server.js';
import { createRocketNotifier } from './rocket.js';

const server = recordingServers(() => ({ status: 200 }));

describe('rocket notifier', () => {
  it('POSTs the Slack body with hex colours', async () => {
    const hook = await server();
    const settings = {
      id: 't/r',
      type: 'rocket',
      address: `${hook.url}/hooks/abc`,
      channel: 'ops',
      username: 'vireo',
    };
    const notifier = createRocketNotifier(settings);
    await notifier.send(failedCanaryMessage);
    await notifier.send({ ...failedCanaryMessage, severity: 'warn' });
    expect(hook.requests.map((request) => request.path)).toEqual(['/hooks/abc', '/hooks/abc']);
    expect(hook.requests[0]!.headers['content-type']).toBe('application/json');
    const [error, warn] = hook.requests.map((request) => JSON.parse(request.body));
    expect(error).toEqual({
      channel: 'ops',
      username: 'vireo',
      icon_emoji: ':rocket:',
      attachments: [
        {
          color: '#FF0000',
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
    expect(warn.attachments[0].color).toBe('#0076D7');
  });
});
