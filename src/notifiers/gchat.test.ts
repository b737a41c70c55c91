import { describe, expect, it } from 'vitest';
import { createGChatNotifier } from './gchat.js';
import { failedCanaryMessage, recordingServers } from '../../test/support/recording-server.js';

const server = recordingServers(() => ({ status: 200 }));

describe('gchat notifier', () => {
  it("POSTs Flagger's cards v1 body, titled Vireo", async () => {
    const hook = await server();
    const settings = {
      id: 't/g',
      type: 'gchat',
      address: `${hook.url}/v1/spaces/AAA/messages?key=k&token=t`,
      channel: 'general',
      username: 'flagger',
    };
    await createGChatNotifier(settings).send({ ...failedCanaryMessage, fields: [['Target', 'a<b>']] });
    const [request] = hook.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/v1/spaces/AAA/messages?key=k&token=t' });
    expect(request!.headers['content-type']).toBe('application/json');
    expect(JSON.parse(request!.body)).toEqual({
      cards: [
        {
          header: { title: 'Vireo', subtitle: 'podinfo.test', imageUrl: 'https://flagger.app/favicon.png' },
          sections: [
            {
              widgets: [
                {
                  textParagraph: {
                    text: '<font color=#848484><strong>Failed checks threshold reached 5</strong></font>',
                  },
                },
              ],
            },
            {
              widgets: [
                {
                  textParagraph: { text: 'Target<br><font color=#848484><strong>a&lt;b&gt;</strong></font>' },
                },
              ],
            },
          ],
        },
      ],
    });
  });
});
