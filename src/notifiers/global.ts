/**
 * Flagger's global notifier (docs/flagger-compatibility.md#7-alerts): one Slack or Microsoft Teams webhook from flags or
 * environment, used for canaries whose `analysis.alerts` is empty. Teams wins when both are set;
 * Slack needs a channel (Flagger refuses to build it without one, and so do we, saying why).
 */
import { VireoError } from '../shared/errors.js';
import { DEFAULT_USERNAME } from './factory.js';
import { createMSTeamsNotifier } from './msteams.js';
import type { ChatNotifier, NotifierDeps } from './notifier.js';
import { createSlackNotifier } from './slack.js';

export interface GlobalNotifierFlags {
  readonly slackUrl?: string | undefined;
  readonly slackToken?: string | undefined;
  readonly slackProxyUrl?: string | undefined;
  readonly slackUser?: string | undefined;
  readonly slackChannel?: string | undefined;
  readonly msteamsUrl?: string | undefined;
  readonly msteamsProxyUrl?: string | undefined;
}

const GLOBAL_ID = 'global';

const nonEmpty = (value: string | undefined): string | undefined =>
  value === undefined || value.trim() === '' ? undefined : value.trim();

/** Flags win over SLACK_URL, SLACK_TOKEN, SLACK_USER, SLACK_CHANNEL, SLACK_PROXY_URL, MSTEAMS_URL and MSTEAMS_PROXY_URL. */
export function globalNotifierFlags(
  flags: GlobalNotifierFlags,
  environment: NodeJS.ProcessEnv = process.env,
): GlobalNotifierFlags {
  return {
    slackUrl: nonEmpty(flags.slackUrl) ?? nonEmpty(environment['SLACK_URL']),
    slackToken: nonEmpty(flags.slackToken) ?? nonEmpty(environment['SLACK_TOKEN']),
    slackProxyUrl: nonEmpty(flags.slackProxyUrl) ?? nonEmpty(environment['SLACK_PROXY_URL']),
    slackUser: nonEmpty(flags.slackUser) ?? nonEmpty(environment['SLACK_USER']),
    slackChannel: nonEmpty(flags.slackChannel) ?? nonEmpty(environment['SLACK_CHANNEL']),
    msteamsUrl: nonEmpty(flags.msteamsUrl) ?? nonEmpty(environment['MSTEAMS_URL']),
    msteamsProxyUrl: nonEmpty(flags.msteamsProxyUrl) ?? nonEmpty(environment['MSTEAMS_PROXY_URL']),
  };
}

/** The global notifier, or undefined when no URL is set (alerts then go only to AlertProviders). */
export function createGlobalNotifier(
  flags: GlobalNotifierFlags,
  deps?: NotifierDeps,
): ChatNotifier | undefined {
  const teams = nonEmpty(flags.msteamsUrl);
  if (teams !== undefined) {
    return createMSTeamsNotifier(
      {
        id: GLOBAL_ID,
        type: 'msteams',
        address: teams,
        channel: '',
        username: DEFAULT_USERNAME,
        proxy: nonEmpty(flags.msteamsProxyUrl),
      },
      deps,
    );
  }
  const slack = nonEmpty(flags.slackUrl);
  if (slack === undefined) return undefined;
  const channel = nonEmpty(flags.slackChannel);
  if (channel === undefined) {
    throw new VireoError(
      'E_GLOBAL_NOTIFIER',
      'empty Slack channel: --slack-url is set, so set --slack-channel (or SLACK_CHANNEL) too',
    );
  }
  return createSlackNotifier(
    {
      id: GLOBAL_ID,
      type: 'slack',
      address: slack,
      channel,
      username: nonEmpty(flags.slackUser) ?? DEFAULT_USERNAME,
      proxy: nonEmpty(flags.slackProxyUrl),
      token: nonEmpty(flags.slackToken),
    },
    deps,
  );
}
