import { describe, expect, it } from 'vitest';
import type { AlertProvider } from '../api/schema/alert-provider.js';
import { ChatNotifierFactory, NotifierAddressError, UnknownNotifierError } from './factory.js';
import { failedCanaryMessage, recordingServers } from '../../test/support/recording-server.js';

const server = recordingServers();

function provider(spec: Record<string, unknown>): AlertProvider {
  return {
    apiVersion: 'flagger.app/v1beta1',
    kind: 'AlertProvider',
    metadata: { name: 'on-call', namespace: 'flagger' },
    spec: spec,
  };
}

describe('ChatNotifierFactory', () => {
  it('rejects an unknown type, listing the known ones', () => {
    const build = () =>
      new ChatNotifierFactory().forProvider(provider({ type: 'pagerduty', address: 'http://x' }), undefined);
    expect(build).toThrow(UnknownNotifierError);
    expect(build).toThrow(
      'AlertProvider flagger/on-call: unknown type "pagerduty"; known types: slack, msteams, discord, rocket, gchat, generic',
    );
    try {
      build();
    } catch (error) {
      expect((error as UnknownNotifierError).code).toBe('E_UNKNOWN_NOTIFIER');
    }
  });

  it("sends to the Secret's address rather than spec.address", async () => {
    const specHook = await server();
    const secretHook = await server();
    const notifier = new ChatNotifierFactory().forProvider(
      provider({ type: 'slack', address: `${specHook.url}/spec`, secretRef: { name: 'slack-url' } }),
      { address: `${secretHook.url}/secret` },
    );
    await notifier.send(failedCanaryMessage);
    expect(specHook.requests).toHaveLength(0);
    expect(secretHook.requests.map((request) => request.path)).toEqual(['/secret']);
  });

  it("applies Flagger's defaults: channel general, username flagger", async () => {
    const hook = await server();
    await new ChatNotifierFactory()
      .forProvider(provider({ type: 'slack', address: hook.url }), undefined)
      .send(failedCanaryMessage);
    expect(JSON.parse(hook.requests[0]!.body)).toMatchObject({ channel: 'general', username: 'flagger' });
  });

  it('refuses a provider without a usable address, without quoting it', () => {
    const factory = new ChatNotifierFactory();
    expect(() => factory.forProvider(provider({ type: 'slack', secretRef: { name: 's' } }), {})).toThrow(
      NotifierAddressError,
    );
    expect(() =>
      factory.forProvider(provider({ type: 'slack', address: 'hooks/SECRET' }), undefined),
    ).toThrow(/^AlertProvider flagger\/on-call: spec.address is not an http\(s\) URL$/);
  });
});
