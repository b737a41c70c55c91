/**
 * The one set of rules a LocalRoute must follow, whichever local router serves it. Both the
 * built-in proxy (builtin/routing.ts) and the nginx renderer (nginx/nginx-config.ts) start from
 * `checkRoute`, so a route one of them takes the other takes too, and means the same thing there.
 *
 * Where the two could differ, the rule is the one both can honour exactly
 * (docs/local/routing.md "One set of rules"):
 * - names, header names, query parameter names and cookie names are what nginx can carry in a
 *   variable or a quoted string (no `_` in header names, no `$` in cookies);
 * - values to match are printable ASCII and never empty, and a regex must not match the empty
 *   string: nginx cannot tell a missing header from an empty one, the built-in proxy can, so a
 *   rule that would match "nothing" is refused rather than answered two ways;
 * - regexes are RE2 syntax (Istio's and Envoy's, and what the built-in proxy runs in linear
 *   time), limited to the characters nginx's PCRE reads the same way;
 * - match semantics are Flagger's for the Canary's `match`: a regex matches the whole value, the
 *   `cookie` header's regex is how cookies are matched, `sourceLabels` never match a local process.
 *
 * Every refusal is an InvalidRouteError whose `field` names the input and whose message says what
 * to write instead.
 */
import { isIPv4, isIPv6 } from 'node:net';
import { RE2JS } from 're2js';
import type { AnalysisMatch } from '../../../api/schema/canary.js';
import { VireoError } from '../../../shared/errors.js';
import { EXPIRED_MAX_AGE, setCookieHeader } from './cookies.js';
import type { LocalRoute, SessionAffinityRule } from './route.js';

/** A route no local router may serve; `field` names the offending input (e.g. `route.match[0].headers.x-user.regex`). */
export class InvalidRouteError extends VireoError {
  readonly field: string;

  constructor(field: string, problem: string) {
    super('E_INVALID_ROUTE', `${field}: ${problem}`);
    this.field = field;
  }
}

export type StringMatchKind = 'exact' | 'prefix' | 'suffix' | 'regex';

/** One condition of an A/B entry, checked. */
export interface CheckedCondition {
  /** Header names lowercased; query parameter names as written. */
  readonly name: string;
  /** How `value` is compared; undefined: the query parameter only has to be present. */
  readonly kind?: StringMatchKind;
  readonly value: string;
}

/** An A/B entry that can match: all its conditions must hold. */
export interface CheckedMatch {
  readonly headers: readonly CheckedCondition[];
  readonly queryParams: readonly CheckedCondition[];
}

/** A session cookie: what a request carries (`name=value`) and the Set-Cookie value that sets it. */
export interface AffinityCookie {
  readonly name: string;
  readonly value: string;
  /** For `previous`, the Set-Cookie value that expires it. */
  readonly setCookie: string;
}

export interface CheckedAffinity {
  readonly canary?: AffinityCookie;
  readonly primary?: AffinityCookie;
  /** The cookie of a finished run, answered with an expiring Set-Cookie. */
  readonly previous?: AffinityCookie;
}

/** A LocalRoute that passed every rule, with what both routers compile from it. */
export interface CheckedRoute {
  readonly route: LocalRoute;
  readonly primary: readonly URL[];
  readonly canary: readonly URL[];
  /** 0–100, as given. */
  readonly canaryWeight: number;
  /** 0–100 of the primary's requests copied to the canary; 0 when mirroring is off. */
  readonly mirrorWeight: number;
  /** The entries that can match; entries naming Istio `sourceLabels` never do and are left out. */
  readonly matches: readonly CheckedMatch[];
  readonly affinity?: CheckedAffinity;
}

/**
 * Checks `route` against the rules above; `field` prefixes the field names in errors (`route`
 * for one route, `routes[2]` in a list). Throws InvalidRouteError.
 */
export function checkRoute(route: LocalRoute, field = 'route'): CheckedRoute {
  checkName(route.namespace, `${field}.namespace`);
  checkName(route.service, `${field}.service`);
  checkListen(route.listen, `${field}.listen`);
  const canaryWeight = percentage(route.canaryWeight, `${field}.canaryWeight`);
  const mirrorWeight = percentage(route.mirrorWeight ?? 100, `${field}.mirrorWeight`);
  const matches = route.match
    .map((entry, i) => checkMatch(entry, `${field}.match[${i}]`))
    .filter((entry): entry is CheckedMatch => entry !== undefined);
  const affinity =
    route.sessionAffinity === undefined
      ? undefined
      : checkAffinity(route.sessionAffinity, `${field}.sessionAffinity`);
  return {
    route,
    primary: route.primary.map((url, i) => replicaUrl(url, `${field}.primary[${i}]`)),
    canary: route.canary.map((url, i) => replicaUrl(url, `${field}.canary[${i}]`)),
    canaryWeight,
    mirrorWeight: route.mirror ? mirrorWeight : 0,
    matches,
    ...(affinity === undefined ? {} : { affinity }),
  };
}

// ---------------------------------------------------------------------------------------------
// Where the route listens and forwards to.

/** Kubernetes names (DNS labels with dots): they label metrics, name nginx upstreams and log lines. */
const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

function checkName(name: string, field: string): void {
  if (!NAME.test(name))
    throw new InvalidRouteError(
      field,
      `${JSON.stringify(name)} is not a valid name: use lowercase letters, digits, "-" and "." (a Kubernetes name)`,
    );
}

function checkListen(listen: LocalRoute['listen'], field: string): void {
  if (!Number.isInteger(listen.port) || listen.port < 0 || listen.port > 65_535)
    throw new InvalidRouteError(`${field}.port`, `must be 0 (any free port) to 65535, got ${listen.port}`);
  checkHost(listen.host, `${field}.host`);
}

/** An IP address (IPv6 with or without brackets) or a host name. */
export function checkHost(host: string, field: string): void {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (isIPv4(host) || isIPv6(bare) || /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) return;
  throw new InvalidRouteError(
    field,
    `${JSON.stringify(host)} is not an IP address or host name (try 127.0.0.1)`,
  );
}

function replicaUrl(text: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidRouteError(field, `${JSON.stringify(text)} is not a URL: write http://127.0.0.1:<port>`);
  }
  if (url.protocol !== 'http:')
    throw new InvalidRouteError(field, `${JSON.stringify(text)}: only http:// replicas are supported`);
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '')
    throw new InvalidRouteError(field, `${JSON.stringify(text)}: give only scheme, host and port`);
  if (url.pathname !== '/' && url.pathname !== '')
    throw new InvalidRouteError(
      field,
      `${JSON.stringify(text)} must be an origin only (http://host:port): requests keep their own path`,
    );
  checkHost(url.hostname, field);
  return url;
}

function percentage(value: number, field: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 100)
    throw new InvalidRouteError(field, `must be between 0 and 100, got ${value}`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// A/B matches.

interface StringMatch {
  readonly exact?: string | undefined;
  readonly prefix?: string | undefined;
  readonly suffix?: string | undefined;
  readonly regex?: string | undefined;
}

/** The entry's conditions; undefined when it can never match (Istio source labels). */
function checkMatch(entry: AnalysisMatch, field: string): CheckedMatch | undefined {
  const headers = Object.entries(entry.headers ?? {}).map(([name, rule]) =>
    headerCondition(name, rule, `${field}.headers[${JSON.stringify(name)}]`),
  );
  const queryParams = Object.entries(entry.queryParams ?? {}).map(([name, rule]) =>
    queryCondition(name, rule, `${field}.queryParams[${JSON.stringify(name)}]`),
  );
  // Local processes have no labels: such an entry never matches (docs/local/manifest.md "Rules").
  if (Object.keys(entry.sourceLabels ?? {}).length > 0) return undefined;
  if (headers.length === 0 && queryParams.length === 0)
    throw new InvalidRouteError(
      field,
      'an entry without headers or queryParams would send every request to the canary: give it a condition',
    );
  return { headers, queryParams };
}

function headerCondition(name: string, rule: StringMatch, field: string): CheckedCondition {
  // nginx drops headers with "_" or other characters by default (ignore_invalid_headers), and
  // reads a header through $http_<name>, where "-" becomes "_": only these names mean one header.
  if (!/^[A-Za-z0-9-]+$/.test(name))
    throw new InvalidRouteError(
      field,
      `header name ${JSON.stringify(name)}: use only letters, digits and "-" (pseudo-headers and "_" cannot be matched)`,
    );
  const kind = matchKind(rule, field);
  if (kind === undefined) throw new InvalidRouteError(field, 'set one of exact, prefix, suffix or regex');
  return { name: name.toLowerCase(), kind, value: matchValue(rule[kind] ?? '', kind, `${field}.${kind}`) };
}

function queryCondition(name: string, rule: StringMatch, field: string): CheckedCondition {
  // nginx reads one parameter through $arg_<name>, and variable names are [A-Za-z0-9_].
  if (!/^[A-Za-z0-9_]+$/.test(name))
    throw new InvalidRouteError(
      field,
      `query parameter name ${JSON.stringify(name)}: use only letters, digits and "_"`,
    );
  const kind = matchKind(rule, field);
  if (kind === undefined) return { name, value: '' };
  if (kind === 'suffix')
    throw new InvalidRouteError(
      `${field}.suffix`,
      'query parameters match exact, prefix or regex (as Istio)',
    );
  return { name, kind, value: matchValue(rule[kind] ?? '', kind, `${field}.${kind}`) };
}

function matchKind(rule: StringMatch, field: string): StringMatchKind | undefined {
  const set = (['exact', 'prefix', 'suffix', 'regex'] as const).filter((key) => rule[key] !== undefined);
  if (set.length > 1)
    throw new InvalidRouteError(
      field,
      `set only one of exact, prefix, suffix or regex (got ${set.join(', ')})`,
    );
  return set[0];
}

/** Printable ASCII: what both routers compare byte for byte the same way. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

function matchValue(value: string, kind: StringMatchKind, field: string): string {
  if (typeof value !== 'string') throw new InvalidRouteError(field, 'must be a string');
  if (!PRINTABLE_ASCII.test(value))
    throw new InvalidRouteError(
      field,
      'use printable ASCII only (no control characters or non-ASCII letters; header values are compared as bytes)',
    );
  if (kind !== 'regex') {
    if (value === '')
      throw new InvalidRouteError(
        field,
        'must not be empty: an empty value cannot be told from a missing header or parameter (omit the condition instead)',
      );
    return value;
  }
  let pattern: RE2JS;
  try {
    pattern = RE2JS.compile(value);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new InvalidRouteError(
      field,
      `not an RE2 regular expression (the syntax Istio and Envoy use; no lookaround or backreferences): ${reason}`,
    );
  }
  // nginx's PCRE reads bytes, not code points, and refuses \x{…} beyond one byte.
  for (const [escape, hex] of value.matchAll(/\\x\{([0-9A-Fa-f]+)\}/g)) {
    if (Number.parseInt(hex!, 16) > 0xff)
      throw new InvalidRouteError(
        field,
        `${escape} is beyond one byte: values are compared as bytes, so use \\x{00} to \\x{FF}`,
      );
  }
  if (pattern.matches(''))
    throw new InvalidRouteError(
      field,
      'matches an empty value, which cannot be told from a missing header or parameter: require at least one character (e.g. ".+" instead of ".*")',
    );
  return value;
}

// ---------------------------------------------------------------------------------------------
// Session affinity.

// RFC 6265 cookie-name (a token) without "$", which nginx would read as a variable.
const COOKIE_NAME = /^[A-Za-z0-9!#%&'*+.^_`|~-]+$/;
// RFC 6265 cookie-octets without "$".
const COOKIE_VALUE = /^[\x21\x23\x25-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]+$/;
const DOMAIN = /^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/;
const COOKIE_PATH = /^\/[\x21\x23\x25-\x3a\x3c-\x5b\x5d-\x7e]*$/;

function checkAffinity(rule: SessionAffinityRule, field: string): CheckedAffinity {
  const name = cookieName(rule.cookieName, `${field}.cookieName`);
  const primaryName =
    rule.primaryCookieName === undefined
      ? undefined
      : cookieName(rule.primaryCookieName, `${field}.primaryCookieName`);
  if (primaryName === name)
    throw new InvalidRouteError(
      `${field}.primaryCookieName`,
      `must differ from cookieName ("${name}"): one cookie cannot pin clients to both sides`,
    );
  const canaryValue = cookieValue(rule.canaryValue, `${field}.canaryValue`);
  const primaryValue = cookieValue(rule.primaryValue, `${field}.primaryValue`);
  const previousValue = cookieValue(rule.previousValue, `${field}.previousValue`);
  const maxAge = seconds(rule.maxAgeSeconds, `${field}.maxAgeSeconds`);
  const primaryMaxAge = seconds(rule.primaryMaxAgeSeconds, `${field}.primaryMaxAgeSeconds`);
  if (rule.domain !== undefined && !DOMAIN.test(rule.domain))
    throw new InvalidRouteError(`${field}.domain`, `${JSON.stringify(rule.domain)} is not a domain name`);
  if (rule.path !== undefined && !COOKIE_PATH.test(rule.path))
    throw new InvalidRouteError(
      `${field}.path`,
      `${JSON.stringify(rule.path)} must start with "/" and hold no spaces, quotes, ",", ";", "\\" or "$"`,
    );
  if (rule.sameSite !== undefined && !['Strict', 'Lax', 'None'].includes(rule.sameSite))
    throw new InvalidRouteError(
      `${field}.sameSite`,
      `must be Strict, Lax or None, got ${String(rule.sameSite)}`,
    );

  const cookie = (cookieName: string, value: string, maxAgeSeconds: number): AffinityCookie => ({
    name: cookieName,
    value,
    setCookie: setCookieHeader(cookieName, value, maxAgeSeconds, rule),
  });
  return {
    ...(canaryValue === undefined ? {} : { canary: cookie(name, canaryValue, maxAge) }),
    ...(primaryName === undefined || primaryValue === undefined
      ? {}
      : { primary: cookie(primaryName, primaryValue, primaryMaxAge) }),
    ...(previousValue === undefined ? {} : { previous: cookie(name, previousValue, EXPIRED_MAX_AGE) }),
  };
}

function cookieName(name: string, field: string): string {
  if (!COOKIE_NAME.test(name))
    throw new InvalidRouteError(
      field,
      `${JSON.stringify(name)} is not a cookie name: use letters, digits and "-", "_" or "." (an RFC 6265 token without "$")`,
    );
  return name;
}

function cookieValue(value: string | undefined, field: string): string | undefined {
  if (value === undefined) return undefined;
  if (!COOKIE_VALUE.test(value))
    throw new InvalidRouteError(
      field,
      `${JSON.stringify(value)} is not a cookie value: use letters and digits (no spaces, quotes, ",", ";", "\\" or "$")`,
    );
  return value;
}

function seconds(value: number, field: string): number {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new InvalidRouteError(field, `must be a whole, non-negative number of seconds, got ${value}`);
  return value;
}
