import { describe, expect, it } from 'vitest';
import type { Canary } from '../api/schema/canary.js';
import {
  encodeGoJson,
  encodeWebhookPayload,
  eventWebhookPayload,
  fnv1a32,
  headersFromSecret,
  UnsupportedJsonValueError,
  webhookChecksum,
  WebhookHeaderError,
  webhookPayload,
} from './payload.js';

const canary: Canary = {
  apiVersion: 'flagger.app/v1beta1',
  kind: 'Canary',
  metadata: { name: 'podinfo', namespace: 'test' },
  spec: {
    targetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'podinfo' },
    service: { port: 9898 },
    analysis: { interval: '1m', threshold: 5, stepWeight: 10 },
  },
  status: {
    phase: 'Progressing',
    lastAppliedSpec: '6d6c8f7b9',
    trackedConfigs: {
      'secret/podinfo-token': 'fedcba9876543210',
      'configmap/podinfo-config': '0123456789abcdef',
    },
  },
};
// FNV-1a 32 of {"lastAppliedSpec":"6d6c8f7b9","trackedConfigs":{"configmap/podinfo-config":"0123456789abcdef","secret/podinfo-token":"fedcba9876543210"}},
// computed independently; pinned because hooks may key on it across Vireo releases.
const CHECKSUM = '2e38e94e';

function thrownBy(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('encodeGoJson writes strings as Go json.Marshal does', () => {
  it.each([
    ['HTML characters', '<b>&</b>', String.raw`"\u003cb\u003e\u0026\u003c/b\u003e"`],
    ['quotes and backslashes', 'say "hi" \\o/', String.raw`"say \"hi\" \\o/"`],
    ['short escapes', '\n\r\t\b\f', String.raw`"\n\r\t\b\f"`],
    ['other control characters', '\u0000\u0001\u001f', String.raw`"\u0000\u0001\u001f"`],
    ['JavaScript line terminators', '\u2028\u2029', String.raw`"\u2028\u2029"`],
    ['non-ASCII text, unescaped', 'é ✓ 🚀 \u007f', '"é ✓ 🚀 \u007f"'],
    ['a lone surrogate, as invalid UTF-8', 'a\ud800b\udc00', String.raw`"a\ufffdb\ufffd"`],
  ])('%s', (_case, input, expected) => {
    expect(encodeGoJson(input)).toBe(expected);
  });

  it('keeps object and Map key order, escapes keys, and leaves out undefined members', () => {
    const value = {
      z: 1,
      a: [true, false, null],
      'x<y': new Map([
        ['b', 'B'],
        ['a', 'A'],
      ]),
      gone: undefined,
    };
    expect(encodeGoJson(value)).toBe(String.raw`{"z":1,"a":[true,false,null],"x\u003cy":{"b":"B","a":"A"}}`);
  });

  it('writes numbers like Go float64', () => {
    expect(encodeGoJson([0, -0, 1.5, 1e21, 1e-7, 123456789])).toBe('[0,-0,1.5,1e+21,1e-7,123456789]');
  });

  it('refuses values Go refuses', () => {
    const error = thrownBy(() => encodeGoJson(Number.NaN));
    expect(error).toBeInstanceOf(UnsupportedJsonValueError);
    expect((error as UnsupportedJsonValueError).code).toBe('E_WEBHOOK_JSON');
  });
});

describe('encodeWebhookPayload', () => {
  const base = { name: 'podinfo', namespace: 'test', phase: 'Progressing', checksum: 'abc' };

  it('leaves metadata out when absent or empty, like omitempty', () => {
    const expected = '{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"abc"}';
    expect(encodeWebhookPayload(base)).toBe(expected);
    expect(encodeWebhookPayload({ ...base, metadata: {} })).toBe(expected);
  });

  it("sorts metadata by UTF-8 bytes, as Go sorts a map's keys", () => {
    const metadata = { b: '1', a: '2', B: '3', '9': '4', '10': '5', '🚀': '6', '！': '7' };
    expect(encodeWebhookPayload({ ...base, metadata })).toBe(
      '{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"abc",' +
        '"metadata":{"10":"5","9":"4","B":"3","a":"2","b":"1","！":"7","🚀":"6"}}',
    );
  });
});

describe('webhookPayload', () => {
  it("carries the canary's identity, the phase given and the hook's metadata", () => {
    const payload = webhookPayload(canary, 'Waiting', {
      metadata: { cmd: 'hey -z 1m http://podinfo-canary.test/' },
    });
    expect(payload).toEqual({
      name: 'podinfo',
      namespace: 'test',
      phase: 'Waiting',
      checksum: CHECKSUM,
      metadata: { cmd: 'hey -z 1m http://podinfo-canary.test/' },
    });
  });

  it('has no metadata when the hook has none or an empty map', () => {
    expect(webhookPayload(canary, 'Progressing', {})).not.toHaveProperty('metadata');
    expect(webhookPayload(canary, 'Progressing', { metadata: {} })).not.toHaveProperty('metadata');
  });

  it('uses the default namespace when the canary has none', () => {
    const unnamespaced = { ...canary, metadata: { name: 'podinfo' } };
    expect(webhookPayload(unnamespaced, 'Progressing', {}).namespace).toBe('default');
  });
});

describe('eventWebhookPayload', () => {
  const event = {
    type: 'Warning' as const,
    message: 'Halt advancement podinfo.test <error>',
    time: new Date(1_700_000_000_123),
  };

  it('reports the event in metadata with the status phase, byte for byte', () => {
    const payload = eventWebhookPayload(canary, { metadata: { env: 'prod' } }, event);
    expect(encodeWebhookPayload(payload)).toBe(
      `{"name":"podinfo","namespace":"test","phase":"Progressing","checksum":"${CHECKSUM}",` +
        String.raw`"metadata":{"env":"prod","eventMessage":"Halt advancement podinfo.test \u003cerror\u003e",` +
        '"eventType":"Warning","timestamp":"1700000000123"}}',
    );
  });

  it("does not let the hook's metadata override the event keys", () => {
    const hook = { metadata: { eventMessage: 'fake', eventType: 'Normal', timestamp: '0', team: 'a' } };
    expect(eventWebhookPayload(canary, hook, event).metadata).toEqual({
      eventMessage: event.message,
      eventType: 'Warning',
      timestamp: '1700000000123',
      team: 'a',
    });
  });

  it('sends an empty phase for a canary without status, as Flagger does', () => {
    const fresh = { ...canary, status: undefined };
    const payload = eventWebhookPayload(fresh, {}, { ...event, type: 'Normal' });
    expect(payload.phase).toBe('');
    expect(payload.metadata?.eventType).toBe('Normal');
  });
});

describe('webhookChecksum', () => {
  it('is FNV-1a 32 (the published test vectors)', () => {
    expect(fnv1a32('')).toBe(0x811c9dc5);
    expect(fnv1a32('a')).toBe(0xe40c292c);
    expect(fnv1a32('foobar')).toBe(0xbf9cf968);
  });

  it('is stable: pinned values, whatever the order of the tracked configs', () => {
    const reordered = {
      'configmap/podinfo-config': '0123456789abcdef',
      'secret/podinfo-token': 'fedcba9876543210',
    };
    expect(webhookChecksum('6d6c8f7b9', reordered)).toBe(CHECKSUM);
    expect(webhookPayload(canary, 'Progressing', {}).checksum).toBe(CHECKSUM);
    expect(webhookChecksum(undefined, undefined)).toBe('8ac47260');
    expect(webhookChecksum('', {})).toBe('8ac47260');
  });

  it('changes when the spec or any tracked config changes', () => {
    const configs = canary.status!.trackedConfigs!;
    expect(webhookChecksum('6d6c8f7ba', configs)).not.toBe(CHECKSUM);
    expect(webhookChecksum('6d6c8f7b9', { ...configs, 'secret/podinfo-token': '0' })).not.toBe(CHECKSUM);
    expect(webhookChecksum('6d6c8f7b9', { 'configmap/podinfo-config': '0123456789abcdef' })).not.toBe(
      CHECKSUM,
    );
  });
});

describe('headersFromSecret', () => {
  it('turns each key into a header, trimming the newline `kubectl create secret --from-file` leaves', () => {
    expect(headersFromSecret({ Authorization: 'Bearer s3cr3t-token\n', 'X-Api-Key': 'k' })).toEqual({
      Authorization: 'Bearer s3cr3t-token',
      'X-Api-Key': 'k',
    });
  });

  it.each(['bad header', 'x:y', '', 'ünï', 'a\nb'])('rejects the key %j, naming it', (key) => {
    const error = thrownBy(() => headersFromSecret({ 'X-Ok': 'v', [key]: 'value-never-shown' }));
    expect(error).toBeInstanceOf(WebhookHeaderError);
    expect((error as WebhookHeaderError).code).toBe('E_WEBHOOK_HEADER');
    expect((error as Error).message).toContain(`"${key}"`);
    expect((error as Error).message).not.toContain('value-never-shown');
  });

  it.each([
    ['CR LF (header injection)', 'tok3n\r\nX-Injected: yes'],
    ['a bare LF', 'tok3n\nmore'],
    ['a bare CR', 'tok3n\rmore'],
    ['a NUL', 'tok3n\u0000more'],
    ['non-ASCII', 'tok3n✓more'],
  ])('rejects a value with %s, naming the key but never the value', (_case, value) => {
    const error = thrownBy(() => headersFromSecret({ Authorization: value }));
    expect(error).toBeInstanceOf(WebhookHeaderError);
    expect((error as Error).message).toContain('"Authorization"');
    expect((error as Error).message).not.toContain('tok3n');
    expect((error as Error).message).not.toContain('more');
  });

  it.each(['Content-Length', 'content-type', 'Transfer-Encoding', 'Connection'])(
    'refuses %s, which would corrupt the request',
    (name) => {
      expect(() => headersFromSecret({ [name]: '1' })).toThrow(WebhookHeaderError);
    },
  );

  it('allows Host, to reach a virtual host behind an ingress', () => {
    expect(headersFromSecret({ Host: 'hooks.example.com' })).toEqual({ Host: 'hooks.example.com' });
  });
});
