import { describe, expect, it } from 'vitest';
import { UsageError } from '../shared/errors.js';
import { DEFAULT_ALLOWED_COMMANDS } from './commands.js';
import { describeSettings, resolveFlags } from './options.js';

describe('resolveFlags', () => {
  it('applies the documented defaults', () => {
    const resolved = resolveFlags({}, {});
    expect(resolved).toMatchObject({ host: '127.0.0.1', port: 8080, logLevel: 'info' });
    expect(resolved.settings).toMatchObject({
      commandTimeoutMs: 3_600_000,
      stateFile: './.vireo/loadtester-gates.json',
      maxConcurrent: 8,
      bodyLimitBytes: 65_536,
      policy: { allowAnyCommand: false },
    });
    expect(resolved.settings.token).toBeUndefined();
    expect(resolved.settings.namespacePattern).toBeUndefined();
    expect(resolved.settings.policy.allowed).toEqual(DEFAULT_ALLOWED_COMMANDS);
    expect(resolved.settings.targets.patterns).toEqual([]);
  });

  it('adds --allow-command entries to the defaults, or replaces them with --no-default-commands', () => {
    const added = resolveFlags({ allowCommand: ['kubectl rollout status', 'hey'] }, {});
    expect(added.settings.policy.allowed).toEqual([...DEFAULT_ALLOWED_COMMANDS, 'kubectl rollout status']);
    const only = resolveFlags({ allowCommand: ['hey'], defaultCommands: false }, {});
    expect(only.settings.policy.allowed).toEqual(['hey']);
  });

  it('takes the token from --token, else from VIREO_LOADTESTER_TOKEN, and never shows it', () => {
    expect(resolveFlags({}, { VIREO_LOADTESTER_TOKEN: 'from-env' }).settings.token).toBe('from-env');
    expect(resolveFlags({ token: 'from-flag' }, { VIREO_LOADTESTER_TOKEN: 'from-env' }).settings.token).toBe(
      'from-flag',
    );
    expect(resolveFlags({}, { VIREO_LOADTESTER_TOKEN: '' }).settings.token).toBeUndefined();
    const summary = JSON.stringify(describeSettings(resolveFlags({ token: 'from-flag' }, {}).settings));
    expect(summary).toContain('"authentication":"bearer token"');
    expect(summary).not.toContain('from-flag');
  });

  it('reads the other flags', () => {
    const resolved = resolveFlags(
      {
        port: '0',
        host: '127.0.0.1',
        token: 't',
        allowAnyCommand: true,
        allowTarget: ['podinfo-canary.test:9898', '*.svc.cluster.local', '127.0.0.1'],
        namespaceRegexp: '^team-',
        timeout: '90s',
        stateFile: '/var/lib/vireo/gates.json',
        maxConcurrent: '2',
        bodyLimit: '4096',
        logLevel: 'debug',
      },
      {},
    );
    expect(resolved).toMatchObject({ host: '127.0.0.1', port: 0, logLevel: 'debug' });
    expect(resolved.settings).toMatchObject({
      commandTimeoutMs: 90_000,
      stateFile: '/var/lib/vireo/gates.json',
      maxConcurrent: 2,
      bodyLimitBytes: 4_096,
      policy: { allowAnyCommand: true },
    });
    expect(resolved.settings.namespacePattern?.test('team-a')).toBe(true);
    expect(resolved.settings.targets.patterns.map((pattern) => pattern.text)).toEqual([
      'podinfo-canary.test:9898',
      '*.svc.cluster.local',
      '127.0.0.1',
    ]);
  });

  it('listens on every address only with a token, and on loopback without one', () => {
    expect(resolveFlags({ token: 't' }, {}).host).toBe('0.0.0.0');
    expect(resolveFlags({}, {}).host).toBe('127.0.0.1');
    for (const host of ['127.0.0.1', '::1', 'localhost', '127.1.2.3']) {
      expect(resolveFlags({ host }, {}).host).toBe(host);
    }
    for (const host of ['0.0.0.0', '::', '10.0.0.7', 'example.com']) {
      expect(() => resolveFlags({ host }, {})).toThrow(
        `--host ${host} without a token would let anyone who reaches that address run tasks and open gates`,
      );
      expect(resolveFlags({ host, token: 't' }, {}).host).toBe(host);
    }
  });

  it.each([
    [{ port: '80x' }, '--port must be a whole number from 0 to 65535, got "80x"'],
    [{ port: '70000' }, '--port must be a whole number'],
    [{ timeout: '1 hour' }, '--timeout must be a Go duration above 0'],
    [{ timeout: '0s' }, '--timeout must be a Go duration above 0'],
    [{ namespaceRegexp: '(' }, '--namespace-regexp "(" is not a regular expression'],
    [{ maxConcurrent: '0' }, '--max-concurrent must be a whole number from 1'],
    [{ bodyLimit: '10' }, '--body-limit must be a whole number from 1024'],
    [{ logLevel: 'verbose' }, '--log-level must be one of'],
    [{ allowCommand: ['sh'] }, 'anything else needs --allow-any-command'],
    [{ allowCommand: ['kubectl get'] }, 'anything else needs --allow-any-command'],
    [
      { allowAnyCommand: true },
      '--allow-any-command runs any command for whoever calls the loadtester: it needs --token',
    ],
    [{ allowTarget: ['http://h/'] }, '--allow-target "http://h/" is not HOST, HOST:PORT'],
    [{ allowTarget: ['*.10.0.0.1'] }, 'is not HOST, HOST:PORT'],
    [{ token: 'two words' }, 'must not contain whitespace'],
  ])('refuses %j', (flags, message) => {
    expect(() => resolveFlags(flags, {})).toThrow(UsageError);
    expect(() => resolveFlags(flags, {})).toThrow(message);
  });
});
