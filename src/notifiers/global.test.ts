import { describe, expect, it } from 'vitest';
import { failedCanaryMessage, recordingServers } from '../../test/support/recording-server.js';
import { createGlobalNotifier, globalNotifierFlags } from './global.js';

const server = recordingServers(() => ({ status: 200, body: 'ok' }));

describe('global notifier (--slack-url / --msteams-url)', () => {
  it('is absent without a URL', () => {
    expect(createGlobalNotifier(globalNotifierFlags({}, {}))).toBeUndefined();
  });

  it('posts to Slack with the channel, user and token', async () => {
    const slack = await server();
    const notifier = createGlobalNotifier(
      globalNotifierFlags(
        { slackUrl: `${slack.url}/hook`, slackChannel: 'deploys' },
        { SLACK_TOKEN: 'xoxb-9', SLACK_USER: 'vireo' },
      ),
    );
    await notifier?.send(failedCanaryMessage);
    const body = JSON.parse(slack.requests[0]?.body ?? '{}') as Record<string, unknown>;
    expect(body).toMatchObject({ channel: 'deploys', username: 'vireo' });
    expect(slack.requests[0]?.headers.authorization).toBe('Bearer xoxb-9');
  });

  it('refuses Slack without a channel, saying which flag to set', () => {
    expect(() =>
      createGlobalNotifier(globalNotifierFlags({ slackUrl: 'https://hooks.slack.com/x' }, {})),
    ).toThrow('empty Slack channel: --slack-url is set, so set --slack-channel (or SLACK_CHANNEL) too');
  });

  it('prefers Microsoft Teams, from MSTEAMS_URL, when both are set', async () => {
    const teams = await server();
    const notifier = createGlobalNotifier(
      globalNotifierFlags({ slackUrl: 'https://hooks.slack.com/x' }, { MSTEAMS_URL: `${teams.url}/webhook` }),
    );
    await notifier?.send(failedCanaryMessage);
    expect(JSON.parse(teams.requests[0]?.body ?? '{}')).toMatchObject({ '@type': 'MessageCard' });
  });
});
