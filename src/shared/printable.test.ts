import { describe, expect, it } from 'vitest';
import { printable, printableLines } from './printable.js';

describe('printable', () => {
  it('escapes C0 and C1 controls, DEL, bidi overrides and Unicode line separators', () => {
    expect(printable('a\u001b[31mb\u009b2J\u007f\u202e\u2028\n\t\r')).toBe(
      'a\\x1b[31mb\\x9b2J\\x7f\\u202e\\u2028\\n\\t\\r',
    );
  });

  it('leaves ordinary text, accents and emoji alone', () => {
    expect(printable('café 日本 🚀 "quoted" \\ back')).toBe('café 日本 🚀 "quoted" \\ back');
  });

  it('keeps line breaks as line breaks in printableLines', () => {
    expect(printableLines('one\u001b\ntwo')).toBe('one\\x1b\ntwo');
  });
});
