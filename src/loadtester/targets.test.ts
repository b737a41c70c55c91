import { describe, expect, it } from 'vitest';
import { TargetNotAllowedError } from './errors.js';
import { redactText, redactUrl } from './redact.js';
import {
  checkResolvedAddress,
  checkTarget,
  isNeverByDefaultAddress,
  parseTargetPattern,
  type TargetPolicy,
} from './targets.js';

const byDefault: TargetPolicy = { patterns: [] };

describe('targets', () => {
  it.each([
    '127.0.0.1',
    '127.255.0.9',
    '0.0.0.0',
    '169.254.169.254',
    '224.0.0.1',
    '::1',
    '::',
    '[::1]',
    'fe80::1',
    '::ffff:127.0.0.1',
    '::ffff:7f00:1',
    '[::ffff:a9fe:a9fe]',
    '::127.0.0.1',
    '64:ff9b::7f00:1',
    '0:0:0:0:0:0:0:1',
    'ff02::1',
  ])('never reaches %s by default', (address) => {
    expect(isNeverByDefaultAddress(address)).toBe(true);
    expect(() => checkTarget(byDefault, address, 80, 'the URL')).toThrow(TargetNotAllowedError);
  });

  it.each(['10.0.0.7', '192.168.1.1', 'podinfo-canary.test', '2001:db8::1', '::ffff:10.0.0.7', 'fd00::1'])(
    'reaches %s by default',
    (host) => {
      expect(() => checkTarget(byDefault, host, 9898, 'the URL')).not.toThrow();
    },
  );

  it('sees the address the URL parser normalises to', () => {
    // WHATWG writes [::ffff:127.0.0.1] as [::ffff:7f00:1] and http://2130706433/ as 127.0.0.1.
    for (const text of [
      'http://[::ffff:127.0.0.1]/',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://[::1]/',
    ]) {
      expect(() => checkTarget(byDefault, new URL(text).hostname, 80, 'the URL')).toThrow(
        TargetNotAllowedError,
      );
    }
  });

  it('refuses localhost by name by default', () => {
    expect(() => checkTarget(byDefault, 'localhost', 80, 'the URL')).toThrow(
      'the URL localhost:80 is not an allowed target: loopback, link-local and unspecified addresses are reached only when --allow-target names them (--allow-target localhost:80)',
    );
    expect(() => checkTarget(byDefault, 'api.localhost', 80, 'the URL')).toThrow(TargetNotAllowedError);
  });

  it('reaches only what --allow-target lists, by host, port and suffix', () => {
    const policy: TargetPolicy = {
      patterns: ['*.test', 'podinfo.prod:9898', '127.0.0.1:8080'].map(parseTargetPattern),
    };
    expect(() => checkTarget(policy, 'podinfo-canary.test', 1, 'x')).not.toThrow();
    expect(() => checkTarget(policy, 'PODINFO.prod', 9898, 'x')).not.toThrow();
    expect(() => checkTarget(policy, '127.0.0.1', 8080, 'x')).not.toThrow();
    for (const [host, port] of [
      ['test', 80],
      ['podinfo.prod', 80],
      ['127.0.0.1', 8081],
      ['evil.example', 80],
    ] as const) {
      expect(() => checkTarget(policy, host, port, 'x')).toThrow(
        `x ${host}:${port} is not an allowed target; allowed: *.test, podinfo.prod:9898, 127.0.0.1:8080 (extend with --allow-target)`,
      );
    }
  });

  it('refuses a name that resolves to a loopback address unless that address is listed', () => {
    expect(() => checkResolvedAddress(byDefault, 'rebind.example', '127.0.0.1', 80)).toThrow(
      'rebind.example:80 resolves to 127.0.0.1, which is not an allowed target',
    );
    expect(() => checkResolvedAddress(byDefault, 'podinfo.test', '10.0.0.7', 80)).not.toThrow();
    const listed: TargetPolicy = { patterns: [parseTargetPattern('127.0.0.1:80')] };
    expect(() => checkResolvedAddress(listed, 'localhost', '127.0.0.1', 80)).not.toThrow();
  });
});

describe('redaction', () => {
  it.each([
    ['curl -u admin:hunter2 http://h/', 'hunter2'],
    ['curl --user=admin:hunter2 http://h/', 'hunter2'],
    ['curl -uadmin:hunter2 http://h/', 'hunter2'],
    ['hey -a admin:hunter2 http://h/', 'hunter2'],
    ["curl -H 'Authorization: Bearer abc.def' http://h/", 'abc.def'],
    ["curl -H 'X-Api-Key: k-123' http://h/", 'k-123'],
    ["curl -H 'Cookie: session=s-1' http://h/", 's-1'],
    ['curl https://admin:hunter2@h/', 'hunter2'],
    ['curl "https://h/?api_key=k-9&x=1"', 'k-9'],
    ['curl https://h/?token=t-1', 't-1'],
  ])('hides the credential in %j', (text, credential) => {
    expect(redactText(text)).not.toContain(credential);
    expect(redactText(text)).toContain('[redacted]');
  });

  it('keeps what is not a credential', () => {
    expect(redactText('hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/?x=1')).toBe(
      'hey -z 1m -q 10 -c 2 http://podinfo-canary.test:9898/?x=1',
    );
    expect(redactUrl('https://u:p@h/a?token=1&page=2')).toBe(
      'https://[redacted]@h/a?token=[redacted]&page=2',
    );
  });
});
