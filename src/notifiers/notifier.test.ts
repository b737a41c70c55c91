import { describe, expect, it } from 'vitest';
import { failedCanaryMessage, recordingServers } from '../../test/support/recording-server.js';
import type { NotifierLogEntry } from './notifier.js';
import { createSlackNotifier } from './slack.js';

const server = recordingServers();

const settings = (address: string) => ({
  id: 'test/slack',
  type: 'slack',
  address,
  channel: 'general',
  username: 'flagger',
});

function notifierFor(address: string) {
  const retries: [string, number][] = [];
  const logged: NotifierLogEntry[] = [];
  const notifier = createSlackNotifier(settings(address), {
    transport: { attempts: 3, backoffMs: 1, timeoutMs: 10_000 },
    countRetries: (providerType, count) => retries.push([providerType, count]),
    log: (entry) => logged.push(entry),
  });
  return { notifier, retries, logged };
}

describe('HttpChatNotifier: retries a user can count', () => {
  it('reports the requests sent again for a message that failed every attempt', async () => {
    const hook = await server(() => ({ status: 500, body: 'internal error' }));
    const { notifier, retries, logged } = notifierFor(hook.url);
    expect(await notifier.send(failedCanaryMessage)).toBe(false);
    expect(hook.requests).toHaveLength(3);
    expect(retries).toEqual([['slack', 2]]);
    expect(logged).toMatchObject([{ msg: 'alert not delivered', status: 500, attempts: 3 }]);
  });

  it('reports the retry of a message delivered on its second attempt', async () => {
    const hook = await server((_request, index) =>
      index === 0 ? { status: 503, body: 'busy' } : { status: 200, body: 'ok' },
    );
    const { notifier, retries, logged } = notifierFor(hook.url);
    expect(await notifier.send(failedCanaryMessage)).toBe(true);
    expect(retries).toEqual([['slack', 1]]);
    expect(logged).toEqual([]);
  });

  it('reports nothing for a message delivered at once', async () => {
    const hook = await server();
    const { notifier, retries } = notifierFor(hook.url);
    expect(await notifier.send(failedCanaryMessage)).toBe(true);
    expect(retries).toEqual([]);
  });

  it('a counter that throws does not turn a delivery into a failure', async () => {
    const hook = await server((_request, index) => (index === 0 ? { status: 503 } : { status: 200 }));
    const notifier = createSlackNotifier(settings(hook.url), {
      transport: { attempts: 2, backoffMs: 1 },
      countRetries: () => {
        throw new Error('broken counter');
      },
    });
    expect(await notifier.send(failedCanaryMessage)).toBe(true);
  });
});
