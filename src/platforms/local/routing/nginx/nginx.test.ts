import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort, nginxMessage } from './nginx.js';

describe('nginxMessage', () => {
  it('keeps nginx’s [emerg] lines without the program prefix', () => {
    const output = [
      'nginx: [emerg] pcre2_compile() failed: range out of order in character class in "^(?:[z-a])$" at "a])$" in /d/nginx.conf.next:40',
      'nginx: configuration file /d/nginx.conf.next test failed',
      '',
    ].join('\n');
    expect(nginxMessage(output)).toBe(
      '[emerg] pcre2_compile() failed: range out of order in character class in "^(?:[z-a])$" at "a])$" in /d/nginx.conf.next:40',
    );
  });

  it('falls back to all output, or says there was none', () => {
    expect(nginxMessage('nginx: something odd\n')).toBe('something odd');
    expect(nginxMessage('')).toBe('no message');
  });
});

describe('freePort', () => {
  it('returns a port that can be bound right away', async () => {
    const port = await freePort('127.0.0.1');
    expect(port).toBeGreaterThan(0);
    const server = createServer();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    await new Promise((resolve) => server.close(resolve));
  });
});
