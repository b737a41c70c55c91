/**
 * Text from user input (names, keys, values in messages) made safe for a terminal: control
 * characters, including the ESC that starts terminal escape sequences, and the line and
 * paragraph separators are shown as escapes (\n, \x1b, \u2028) instead of being interpreted.
 */

// C0 controls, DEL, C1 controls (0x9b is a one-byte CSI on some terminals), bidi overrides and
// isolates (they reorder what follows), and the Unicode line separators.
// eslint-disable-next-line no-control-regex
const UNPRINTABLE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const SHORT: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function printable(text: string): string {
  return text.replace(UNPRINTABLE, (char) => {
    const short = SHORT[char];
    if (short !== undefined) return short;
    const code = char.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Whether printing `text` as is would let it drive the terminal or hide what follows. */
export function hasUnprintable(text: string): boolean {
  UNPRINTABLE.lastIndex = 0;
  const found = UNPRINTABLE.test(text);
  UNPRINTABLE.lastIndex = 0;
  return found;
}

/** `printable` line by line: line breaks stay line breaks, everything else is escaped. */
export function printableLines(text: string): string {
  return text.split('\n').map(printable).join('\n');
}
