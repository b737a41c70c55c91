/**
 * The built-in router's decisions, free of sockets: a LocalRoute is checked and compiled once
 * (regexes built, URLs parsed, cookies formatted), then `decide` picks the arm of each request
 * in Flagger's rule order (docs/flagger-compatibility.md#23-progression-per-strategy "Session affinity"): sticky canary cookie, sticky
 * primary cookie, expired cookie of a previous run, A/B `match`, then the weighted split.
 *
 * Kept apart from proxy.ts so the rules can be read and tested without a network, and so the
 * proxy can swap a whole compiled table atomically on reconfiguration.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { RE2JS } from 're2js';
import type { AnalysisMatch } from '../../../api/schema/canary.js';
import { VireoError } from '../../../shared/errors.js';
import type { LocalRoute, SessionAffinityRule } from './route.js';

export type Arm = 'primary' | 'canary';

/** Which rule chose the arm; useful in logs and tests. */
export type RoutingRule = 'canary-cookie' | 'primary-cookie' | 'previous-cookie' | 'match' | 'weight';

/** A LocalRoute that cannot be served: the message names the field and what to change. */
export class InvalidRouteError extends VireoError {
  constructor(message: string) {
    super('E_INVALID_ROUTE', message);
  }
}

export interface RoutingDecision {
  readonly arm: Arm;
  readonly rule: RoutingRule;
  /** Set-Cookie header values to add to the answer. */
  readonly setCookies: readonly string[];
  /** Also send a copy of the request to a canary replica (mirroring). */
  readonly mirror: boolean;
}

/** What `decide` reads from a request. */
export interface RequestFacts {
  readonly headers: IncomingHttpHeaders;
  /** Path and query as received (`req.url`). */
  readonly url: string;
}

type StringTest = (value: string) => boolean;

interface CompiledMatch {
  readonly headers: readonly { readonly name: string; readonly test: StringTest }[];
  readonly queryParams: readonly { readonly name: string; readonly test: StringTest }[];
  /** Istio source labels cannot hold for local processes: such an entry never matches. */
  readonly impossible: boolean;
}

interface CompiledAffinity {
  readonly rule: SessionAffinityRule;
  readonly canaryCookie?: string;
  readonly primaryCookie?: string;
  readonly expirePrevious?: string;
}

/** Round-robin over one arm's replicas; a new table starts a new rotation. */
export class ReplicaRotation {
  private nextIndex = 0;

  constructor(readonly replicas: readonly URL[]) {}

  /** Every replica once, starting with the next one in turn (failover walks the rest). */
  order(): readonly URL[] {
    const count = this.replicas.length;
    if (count <= 1) return this.replicas; // no copy per request for the common single replica
    const start = this.nextIndex % count;
    this.nextIndex = (start + 1) % count;
    return [...this.replicas.slice(start), ...this.replicas.slice(0, start)];
  }
}

/** A checked, ready-to-use LocalRoute. Immutable except for the replica rotations. */
export interface RoutingTable {
  readonly route: LocalRoute;
  readonly primary: ReplicaRotation;
  readonly canary: ReplicaRotation;
  readonly matches: readonly CompiledMatch[];
  readonly affinity?: CompiledAffinity;
  /** Mirroring probability in [0, 1]; 0 when mirroring is off. */
  readonly mirrorShare: number;
  readonly canaryShare: number;
}

/** Checks a route and compiles it; throws InvalidRouteError naming the bad field. */
export function compileRoute(route: LocalRoute): RoutingTable {
  if (route.namespace === '' || route.service === '') {
    throw new InvalidRouteError('route.namespace and route.service must not be empty');
  }
  checkListen(route.listen);
  const canaryShare = percentage(route.canaryWeight, 'route.canaryWeight') / 100;
  const mirrorWeight = route.mirrorWeight ?? 100;
  const mirrorShare = route.mirror ? percentage(mirrorWeight, 'route.mirrorWeight') / 100 : 0;
  const affinity = route.sessionAffinity === undefined ? undefined : compileAffinity(route.sessionAffinity);
  return {
    route,
    primary: new ReplicaRotation(route.primary.map((url, i) => replicaUrl(url, `route.primary[${i}]`))),
    canary: new ReplicaRotation(route.canary.map((url, i) => replicaUrl(url, `route.canary[${i}]`))),
    matches: route.match.map((entry, i) => compileMatch(entry, `route.match[${i}]`)),
    ...(affinity === undefined ? {} : { affinity }),
    mirrorShare,
    canaryShare,
  };
}

/**
 * Picks the arm of one request. `random` (uniform in [0, 1)) is drawn once for the weighted
 * split, only when that rule decides and the weight is strictly between 0 and 100, then once
 * for mirroring, only when the primary answers and mirrorWeight is strictly between 0 and 100.
 */
export function decide(table: RoutingTable, request: RequestFacts, random: () => number): RoutingDecision {
  const chosen = chooseArm(table, request, random);
  const mirror =
    chosen.arm === 'primary' && table.canary.replicas.length > 0 && draw(table.mirrorShare, random);
  return { ...chosen, mirror };
}

function chooseArm(
  table: RoutingTable,
  request: RequestFacts,
  random: () => number,
): Omit<RoutingDecision, 'mirror'> {
  const affinity = table.affinity;
  if (affinity !== undefined) {
    const cookies = parseCookies(request.headers.cookie);
    const { rule } = affinity;
    const carries = (name: string, value: string | undefined): boolean =>
      value !== undefined && cookies.some(([n, v]) => n === name && v === value);
    if (carries(rule.cookieName, rule.canaryValue)) {
      return { arm: 'canary', rule: 'canary-cookie', setCookies: [] };
    }
    if (rule.primaryCookieName !== undefined && carries(rule.primaryCookieName, rule.primaryValue)) {
      return { arm: 'primary', rule: 'primary-cookie', setCookies: [] };
    }
    if (affinity.expirePrevious !== undefined && carries(rule.cookieName, rule.previousValue)) {
      return { arm: 'primary', rule: 'previous-cookie', setCookies: [affinity.expirePrevious] };
    }
  }
  if (table.matches.some((entry) => matches(entry, request))) {
    return { arm: 'canary', rule: 'match', setCookies: [] };
  }
  const arm: Arm = draw(table.canaryShare, random) ? 'canary' : 'primary';
  const cookie = arm === 'canary' ? affinity?.canaryCookie : affinity?.primaryCookie;
  return { arm, rule: 'weight', setCookies: cookie === undefined ? [] : [cookie] };
}

function draw(share: number, random: () => number): boolean {
  if (share <= 0) return false;
  if (share >= 1) return true;
  return random() < share;
}

function matches(entry: CompiledMatch, request: RequestFacts): boolean {
  if (entry.impossible) return false;
  for (const header of entry.headers) {
    const value = headerValue(request.headers, header.name);
    if (value === undefined || !header.test(value)) return false;
  }
  if (entry.queryParams.length > 0) {
    const query = new URLSearchParams(queryOf(request.url));
    for (const param of entry.queryParams) {
      if (!query.getAll(param.name).some((value) => param.test(value))) return false;
    }
  }
  return true;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function queryOf(url: string): string {
  const mark = url.indexOf('?');
  return mark === -1 ? '' : url.slice(mark + 1);
}

/** `a=1; b=2` → [['a','1'], ['b','2']]; pairs without `=` are skipped. */
export function parseCookies(header: string | undefined): [string, string][] {
  if (header === undefined) return [];
  const pairs: [string, string][] = [];
  for (const raw of header.split(';')) {
    const part = raw.trim();
    const equals = part.indexOf('=');
    if (equals <= 0) continue;
    let value = part.slice(equals + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1);
    pairs.push([part.slice(0, equals).trim(), value]);
  }
  return pairs;
}

function compileMatch(entry: AnalysisMatch, field: string): CompiledMatch {
  const headers = Object.entries(entry.headers ?? {}).map(([name, rule]) => ({
    name: name.toLowerCase(),
    test: compileStringMatch(rule, `${field}.headers.${name}`),
  }));
  const queryParams = Object.entries(entry.queryParams ?? {}).map(([name, rule]) => ({
    name,
    test: compileStringMatch(rule, `${field}.queryParams.${name}`),
  }));
  const impossible = Object.keys(entry.sourceLabels ?? {}).length > 0;
  return { headers, queryParams, impossible };
}

interface StringMatch {
  readonly exact?: string | undefined;
  readonly prefix?: string | undefined;
  readonly suffix?: string | undefined;
  readonly regex?: string | undefined;
}

/**
 * One of exact/prefix/suffix/regex; none means "present with any value". A regex must match the
 * whole value, as Envoy's (and so Istio's and Flagger's `.*name.*value.*` cookie rule) does, and
 * is RE2 syntax run by an RE2 engine: matching time is linear in the value's length, so no
 * pattern (`^(a+)+$` included) can stall the router (docs/local/router.md "Routing").
 */
function compileStringMatch(rule: StringMatch, field: string): StringTest {
  const set = (['exact', 'prefix', 'suffix', 'regex'] as const).filter((key) => rule[key] !== undefined);
  if (set.length > 1) {
    throw new InvalidRouteError(
      `${field}: set only one of exact, prefix, suffix or regex (got ${set.join(', ')})`,
    );
  }
  const { exact, prefix, suffix, regex } = rule;
  if (exact !== undefined) return (value) => value === exact;
  if (prefix !== undefined) return (value) => value.startsWith(prefix);
  if (suffix !== undefined) return (value) => value.endsWith(suffix);
  if (regex !== undefined) {
    let pattern: RE2JS;
    try {
      pattern = RE2JS.compile(regex);
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      throw new InvalidRouteError(
        `${field}.regex is not an RE2 regular expression (the syntax Istio and Envoy use; no lookaround or backreferences): ${reason}`,
      );
    }
    return (value) => pattern.matches(value);
  }
  return () => true;
}

/** RFC 6265 token characters for a cookie name; values must not break the header either. */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const COOKIE_VALUE = /^[!#-+\--:<-[\]-~]*$/;

function compileAffinity(rule: SessionAffinityRule): CompiledAffinity {
  const field = 'route.sessionAffinity';
  cookieName(rule.cookieName, `${field}.cookieName`);
  if (rule.primaryCookieName !== undefined) cookieName(rule.primaryCookieName, `${field}.primaryCookieName`);
  for (const key of ['canaryValue', 'primaryValue', 'previousValue'] as const) {
    const value = rule[key];
    if (value !== undefined && (value === '' || !COOKIE_VALUE.test(value))) {
      throw new InvalidRouteError(`${field}.${key} "${value}" is not a cookie value: use letters and digits`);
    }
  }
  for (const key of ['maxAgeSeconds', 'primaryMaxAgeSeconds'] as const) {
    if (!Number.isInteger(rule[key])) {
      throw new InvalidRouteError(`${field}.${key} must be a whole number of seconds, got ${rule[key]}`);
    }
  }
  for (const key of ['path', 'domain'] as const) {
    const value = rule[key];
    if (value !== undefined && /[;\r\n]/.test(value)) {
      throw new InvalidRouteError(`${field}.${key} must not contain ";" or line breaks`);
    }
  }
  const attributes = cookieAttributes(rule);
  // Deleting a cookie only works when Path and Domain match the ones it was set with.
  const scope = cookieAttributes({ path: rule.path, domain: rule.domain });
  const canaryCookie =
    rule.canaryValue === undefined
      ? undefined
      : `${rule.cookieName}=${rule.canaryValue}; Max-Age=${rule.maxAgeSeconds}${attributes}`;
  const primaryCookie =
    rule.primaryCookieName === undefined || rule.primaryValue === undefined
      ? undefined
      : `${rule.primaryCookieName}=${rule.primaryValue}; Max-Age=${rule.primaryMaxAgeSeconds}${attributes}`;
  const expirePrevious =
    rule.previousValue === undefined
      ? undefined
      : `${rule.cookieName}=${rule.previousValue}; Max-Age=-1${scope}`;
  return {
    rule,
    ...(canaryCookie === undefined ? {} : { canaryCookie }),
    ...(primaryCookie === undefined ? {} : { primaryCookie }),
    ...(expirePrevious === undefined ? {} : { expirePrevious }),
  };
}

function cookieAttributes(rule: Partial<SessionAffinityRule>): string {
  let text = '';
  if (rule.path !== undefined) text += `; Path=${rule.path}`;
  if (rule.domain !== undefined) text += `; Domain=${rule.domain}`;
  if (rule.httpOnly === true) text += '; HttpOnly';
  if (rule.secure === true) text += '; Secure';
  if (rule.sameSite !== undefined) text += `; SameSite=${rule.sameSite}`;
  return text;
}

function cookieName(name: string, field: string): void {
  if (!COOKIE_NAME.test(name)) {
    throw new InvalidRouteError(`${field} "${name}" is not a cookie name: use letters, digits, "-" or "_"`);
  }
}

function percentage(value: number, field: string): number {
  if (!Number.isFinite(value) || value < 0 || value > 100) {
    throw new InvalidRouteError(`${field} must be between 0 and 100, got ${value}`);
  }
  return value;
}

function checkListen(listen: LocalRoute['listen']): void {
  if (!Number.isInteger(listen.port) || listen.port < 0 || listen.port > 65_535) {
    throw new InvalidRouteError(`route.listen.port must be 0 (any free port) to 65535, got ${listen.port}`);
  }
  if (listen.host === '') throw new InvalidRouteError('route.listen.host must not be empty (try 127.0.0.1)');
}

function replicaUrl(text: string, field: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InvalidRouteError(`${field} "${text}" is not a URL: write http://127.0.0.1:<port>`);
  }
  if (url.protocol !== 'http:') {
    throw new InvalidRouteError(`${field} "${text}": only http:// replicas are supported`);
  }
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.username !== '') {
    throw new InvalidRouteError(`${field} "${text}" must be an origin only (http://host:port), without path`);
  }
  return url;
}
