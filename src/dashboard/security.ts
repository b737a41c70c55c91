/**
 * The dashboard's browser-facing protections (docs/dashboard.md "Security"): headers on every
 * answer, the Host check that defeats DNS rebinding on loopback, and the CSRF check on actions
 * (a per-credential token in a header plus the Origin check). Credentials are only ever read from
 * the Authorization header, never from a cookie or the URL, so a page on another site cannot make
 * the browser send them; the CSRF token is a second, independent lock.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { isIP } from 'node:net';

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'permissions-policy': 'camera=(), microphone=(), geolocation=()',
  'cache-control': 'no-store',
};

export const CSRF_HEADER = 'x-vireo-csrf';

/** Per-credential CSRF tokens: an HMAC of the credential under a key that lives as long as the process. */
export class CsrfTokens {
  private readonly key: Buffer;

  constructor(key: Buffer = randomBytes(32)) {
    this.key = key;
  }

  tokenFor(credential: string): string {
    return createHmac('sha256', this.key).update(credential).digest('base64url');
  }

  verify(credential: string, presented: string | undefined): boolean {
    if (presented === undefined) return false;
    const expected = Buffer.from(this.tokenFor(credential));
    const given = Buffer.from(presented);
    return given.length === expected.length && timingSafeEqual(given, expected);
  }
}

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  if (isIP(bare) === 6) return bare === '::1';
  return false;
}

/** The hostname of a Host header (`127.0.0.1:9898`, `[::1]:9898`, `localhost`). */
export function hostnameOf(hostHeader: string): string {
  const match = /^(\[[^\]]+\]|[^:]+)(:\d+)?$/.exec(hostHeader);
  return match === null ? '' : match[1]!;
}

/**
 * On loopback the page must be asked for by a loopback name: a site that points its own DNS
 * name at 127.0.0.1 (DNS rebinding) is refused, whatever it sends.
 */
export function hostAllowed(hostHeader: string | undefined, loopbackOnly: boolean): boolean {
  if (hostHeader === undefined || hostHeader === '') return false;
  return !loopbackOnly || isLoopbackHost(hostnameOf(hostHeader));
}

/** A state-changing request must come from the dashboard's own origin (or from no browser at all). */
export function originAllowed(origin: string | undefined, hostHeader: string | undefined): boolean {
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === hostHeader;
  } catch {
    return false;
  }
}
