/**
 * The one format of session-affinity cookies, whichever local router writes them: both the
 * built-in proxy and the nginx config take their `Set-Cookie` values from `setCookieHeader`, so a
 * client sees the same header from either (docs/local/routing.md "Session affinity").
 *
 * Attributes come in Flagger's order, `[; Domain][; HttpOnly][; Path][; SameSite][; Secure]`
 * (docs/local/routing.md). The expiring cookie of a finished run carries the same attributes as
 * the cookie it replaces: a browser only deletes a cookie whose Domain and Path match the ones it
 * was set with, and repeating the others does no harm.
 *
 * Values are not checked here: route-check.ts does that once, before anything is written.
 */

/** The attributes of a session-affinity cookie beside its name, value and Max-Age. */
export interface CookieAttributes {
  readonly domain?: string | undefined;
  readonly httpOnly?: boolean | undefined;
  readonly path?: string | undefined;
  readonly sameSite?: 'Strict' | 'Lax' | 'None' | undefined;
  readonly secure?: boolean | undefined;
}

/**
 * `<name>=<value>; Max-Age=<maxAgeSeconds>[; Domain=…][; HttpOnly][; Path=…][; SameSite=…][; Secure]`.
 * A Max-Age of -1 tells the client to drop the cookie.
 */
export function setCookieHeader(
  name: string,
  value: string,
  maxAgeSeconds: number,
  attributes: CookieAttributes,
): string {
  let text = `${name}=${value}; Max-Age=${maxAgeSeconds}`;
  if (attributes.domain !== undefined) text += `; Domain=${attributes.domain}`;
  if (attributes.httpOnly === true) text += '; HttpOnly';
  if (attributes.path !== undefined) text += `; Path=${attributes.path}`;
  if (attributes.sameSite !== undefined) text += `; SameSite=${attributes.sameSite}`;
  if (attributes.secure === true) text += '; Secure';
  return text;
}

/** Max-Age of the answer that makes a client drop a cookie of a finished run. */
export const EXPIRED_MAX_AGE = -1;
