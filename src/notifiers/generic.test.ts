import { describe, expect, it } from 'vitest';
import { createGenericNotifier } from './generic.js';
import { failedCanaryMessage, recordingServers } from '../../test/support/recording-server.js';

const server = recordingServers(() => ({ status: 204 }));

describe('generic notifier', () => {
  it('POSTs a plain JSON event with the fields as an object', async () => {
    const hook = await server();
    const settings = {
      id: 't/w',
      type: 'generic',
      address: `${hook.url}/alerts`,
      channel: 'general',
      username: 'flagger',
      token: 's3cr3t',
    };
    const notifier = createGenericNotifier(settings, { now: () => new Date('2025-01-02T03:04:05.000Z') });
    const result = await notifier.deliver(failedCanaryMessage);
    expect(result).toMatchObject({ ok: true, status: 204 });
    const [request] = hook.requests;
    expect(request).toMatchObject({ method: 'POST', path: '/alerts' });
    expect(request!.headers['content-type']).toBe('application/json');
    expect(request!.headers.authorization).toBe('Bearer s3cr3t');
    expect(JSON.parse(request!.body)).toEqual({
      canary: { name: 'podinfo', namespace: 'test' },
      target: 'Deployment/podinfo.test',
      severity: 'error',
      message: 'Failed checks threshold reached 5',
      fields: { Target: 'Deployment/podinfo.test', 'Failed checks threshold': '5' },
      time: '2025-01-02T03:04:05.000Z',
    });
  });
});
