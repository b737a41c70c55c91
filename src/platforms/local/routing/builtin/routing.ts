/**
 * The built-in router's decisions, free of sockets: a LocalRoute is checked once by the rules
 * every local router follows (../route-check.ts) and compiled (regexes built), then `decide` picks the arm of each request
 * in Flagger's rule order (docs/local/routing.md "Session affinity"): sticky canary cookie, sticky
 * primary cookie, expired cookie of a previous run, A/B `match`, then the weighted split.
 *
 * Kept apart from proxy.ts so the rules can be read and tested without a network, and so the
 * proxy can swap a whole compiled table atomically on reconfiguration.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { RE2JS } from 're2js';
import type { LocalRoute } from '../route.js';
import {
  checkRoute,
  type AffinityCookie,
  type CheckedAffinity,
  type CheckedCondition,
  type CheckedMatch,
} from '../route-check.js';

export type Arm = 'primary' | 'canary';

/** Which rule chose the arm; useful in logs and tests. */
export type RoutingRule = 'canary-cookie' | 'primary-cookie' | 'previous-cookie' | 'match' | 'weight';

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

/** True when both rotations hold the same replicas (in any order). */
export function sameReplicas(a: ReplicaRotation, b: ReplicaRotation): boolean {
  if (a === b) return true;
  if (a.replicas.length !== b.replicas.length) return false;
  const hrefs = new Set(a.replicas.map((replica) => replica.href));
  return b.replicas.every((replica) => hrefs.has(replica.href));
}

/** A checked, ready-to-use LocalRoute. Immutable except for the replica rotations. */
export interface RoutingTable {
  readonly route: LocalRoute;
  readonly primary: ReplicaRotation;
  readonly canary: ReplicaRotation;
  readonly matches: readonly CompiledMatch[];
  readonly affinity?: CheckedAffinity;
  /** Mirroring probability in [0, 1]; 0 when mirroring is off. */
  readonly mirrorShare: number;
  readonly canaryShare: number;
}

/**
 * Checks a route by the rules every local router follows (route-check.ts) and compiles it;
 * throws InvalidRouteError naming the bad field.
 */
export function compileRoute(route: LocalRoute): RoutingTable {
  const checked = checkRoute(route);
  return {
    route,
    primary: new ReplicaRotation(checked.primary),
    canary: new ReplicaRotation(checked.canary),
    matches: checked.matches.map(compileMatch),
    ...(checked.affinity === undefined ? {} : { affinity: checked.affinity }),
    mirrorShare: checked.mirrorWeight / 100,
    canaryShare: checked.canaryWeight / 100,
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
  return { arm: chosen.arm, rule: chosen.rule, setCookies: chosen.setCookies, mirror };
}

function chooseArm(
  table: RoutingTable,
  request: RequestFacts,
  random: () => number,
): Omit<RoutingDecision, 'mirror'> {
  const affinity = table.affinity;
  if (affinity !== undefined) {
    const cookies = parseCookies(request.headers.cookie);
    const carries = (cookie: AffinityCookie | undefined): cookie is AffinityCookie =>
      cookie !== undefined && cookies.some(([n, v]) => n === cookie.name && v === cookie.value);
    if (carries(affinity.canary)) return { arm: 'canary', rule: 'canary-cookie', setCookies: NO_COOKIES };
    if (carries(affinity.primary)) return { arm: 'primary', rule: 'primary-cookie', setCookies: NO_COOKIES };
    if (carries(affinity.previous)) {
      return { arm: 'primary', rule: 'previous-cookie', setCookies: [affinity.previous.setCookie] };
    }
  }
  if (table.matches.some((entry) => matches(entry, request))) {
    return { arm: 'canary', rule: 'match', setCookies: NO_COOKIES };
  }
  const arm: Arm = draw(table.canaryShare, random) ? 'canary' : 'primary';
  const cookie = arm === 'canary' ? affinity?.canary : affinity?.primary;
  return { arm, rule: 'weight', setCookies: cookie === undefined ? NO_COOKIES : [cookie.setCookie] };
}

/** Shared by every decision that sets no cookie (decisions are never mutated). */
const NO_COOKIES: readonly string[] = Object.freeze([]);

function draw(share: number, random: () => number): boolean {
  if (share <= 0) return false;
  if (share >= 1) return true;
  return random() < share;
}

function matches(entry: CompiledMatch, request: RequestFacts): boolean {
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

function compileMatch(entry: CheckedMatch): CompiledMatch {
  const compile = (condition: CheckedCondition) => ({ name: condition.name, test: stringTest(condition) });
  return { headers: entry.headers.map(compile), queryParams: entry.queryParams.map(compile) };
}

/**
 * The test of one checked condition; no kind means "present with any value" (query parameters).
 * A regex must match the whole value, as Envoy's (and so Istio's and Flagger's `.*name.*value.*`
 * cookie rule) does, and runs on an RE2 engine: matching time is linear in the value's length,
 * so no pattern (`^(a+)+$` included) can stall the router (docs/local/router.md "Routing").
 */
function stringTest(condition: CheckedCondition): StringTest {
  const { value } = condition;
  switch (condition.kind) {
    case undefined:
      return () => true;
    case 'exact':
      return (text) => text === value;
    case 'prefix':
      return (text) => text.startsWith(value);
    case 'suffix':
      return (text) => text.endsWith(value);
    case 'regex': {
      const pattern = RE2JS.compile(value);
      return (text) => pattern.matches(text);
    }
  }
}
