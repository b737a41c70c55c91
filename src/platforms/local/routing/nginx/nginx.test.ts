import { describe, expect, it } from 'vitest';
import { nginxMessage } from './nginx.js';

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
