/**
 * What both of the built-in router's request paths (proxy.ts on node:http, fast-lane.ts on a net
 * socket) agree on about a message's framing (docs/local/router.md): one copy, so the two lanes
 * can never forward different headers for the same request.
 */

/** RFC 9110 §7.6.1 connection-specific headers, plus the non-standard Proxy-Connection. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-authenticate',
  'proxy-authorization',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** A Connection header naming nothing beyond the hop-by-hop headers themselves. */
export const ONLY_HOP_BY_HOP_TOKEN = /^\s*(?:keep-alive|close)\s*$/i;

/** A whole answer up to this size goes to the client in one socket write. */
export const ONE_WRITE_LIMIT_BYTES = 64 * 1024;

/**
 * RFC 9110 tchar, by byte (or latin1 character code): 1 where a field name may have it. Shared by
 * the fast lane's request parser and the upstream client's answer parser.
 */
export const TOKEN_CHAR = charSet((code) => /^[!#$%&'*+\-.^_`|~0-9A-Za-z]$/.test(String.fromCharCode(code)));

/** Field value bytes: HTAB, visible ASCII, space, obs-text; never CR, LF, NUL, other controls or DEL. */
export const FIELD_VALUE_CHAR = charSet((code) => code === 0x09 || (code >= 0x20 && code !== 0x7f));

function charSet(member: (code: number) => boolean): Uint8Array {
  const set = new Uint8Array(256);
  for (let code = 0; code < 256; code += 1) set[code] = member(code) ? 1 : 0;
  return set;
}

/** The header names a Connection header lists, lower-cased. */
export function connectionTokens(value: string): string[] {
  return value
    .split(',')
    .map((token) => token.trim().toLowerCase())
    .filter((token) => token !== '');
}
