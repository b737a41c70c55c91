/**
 * Which servers a task may reach (docs/loadtester.md, "Targets"). Every URL or address a task names
 * is checked against the target policy before anything runs, and the loadtester's own HTTP client
 * checks the addresses a name resolves to when it connects, so a DNS name cannot lead to a
 * loopback or link-local service (a local-mode daemon, a cloud metadata endpoint) either.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { isIP } from 'node:net';
import { UsageError } from '../shared/errors.js';
import { TargetNotAllowedError } from './errors.js';

/** An `--allow-target` entry: a host (or `*.suffix`) and optionally a port. */
export interface TargetPattern {
  readonly text: string;
  /** Lower-case host, or the suffix (with its leading dot) for a `*.` pattern. */
  readonly host: string;
  readonly wildcard: boolean;
  readonly port?: number;
}

export interface TargetPolicy {
  /** Empty: any host but the never-by-default addresses (loopback, link-local, unspecified). */
  readonly patterns: readonly TargetPattern[];
}

export const DEFAULT_TARGET_POLICY: TargetPolicy = { patterns: [] };

const DNS_NAME =
  /^(?=.{1,253}$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$/;

export function parseTargetPattern(text: string): TargetPattern {
  const trimmed = text.trim().toLowerCase();
  const match = /^(\*\.)?(\[[0-9a-f:.]+\]|[^:/\s]+)(?::(\d{1,5}))?$/.exec(trimmed);
  const host = match?.[2]?.replace(/^\[|\]$/g, '');
  const port = match?.[3] === undefined ? undefined : Number(match[3]);
  if (
    match === null ||
    host === undefined ||
    (isIP(host) === 0 && !DNS_NAME.test(host)) ||
    (match[1] !== undefined && isIP(host) !== 0) ||
    (port !== undefined && (port < 1 || port > 65_535))
  ) {
    throw new UsageError(
      `--allow-target "${text}" is not HOST, HOST:PORT, *.SUFFIX or *.SUFFIX:PORT (for example podinfo-canary.test:9898, *.test, 127.0.0.1:8080)`,
    );
  }
  return {
    text: trimmed,
    host: match[1] === undefined ? host : `.${host}`,
    wildcard: match[1] !== undefined,
    ...(port === undefined ? {} : { port }),
  };
}

function ipv4Number(address: string): number {
  return address.split('.').reduce((sum, part) => sum * 256 + Number(part), 0);
}

function inIpv4Range(address: string, base: string, bits: number): boolean {
  const size = 2 ** (32 - bits);
  return Math.floor(ipv4Number(address) / size) === Math.floor(ipv4Number(base) / size);
}

/**
 * Addresses no task reaches unless an `--allow-target` names them: this machine (loopback,
 * unspecified), link-local (cloud metadata services live at 169.254.169.254) and multicast.
 */
/** The eight 16-bit groups of an IPv6 address, or undefined when it is not one. */
function ipv6Groups(address: string): number[] | undefined {
  if (isIP(address) !== 6) return undefined;
  let text = address;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (dotted !== undefined) {
    const [a = 0, b = 0, c = 0, d = 0] = dotted.split('.').map(Number);
    text = `${text.slice(0, -dotted.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string): number[] =>
    part === '' ? [] : part.split(':').map((group) => parseInt(group, 16));
  const first = parse(head);
  const last = tail === undefined ? [] : parse(tail);
  return [...first, ...Array<number>(8 - first.length - last.length).fill(0), ...last];
}

/**
 * Addresses no task reaches unless an `--allow-target` names them: this machine (loopback,
 * unspecified), link-local (cloud metadata services live at 169.254.169.254) and multicast, also
 * when written as IPv6 addresses that carry an IPv4 one (::ffff:127.0.0.1, ::ffff:7f00:1).
 */
export function isNeverByDefaultAddress(address: string): boolean {
  const lower = address.toLowerCase().replace(/^\[|\]$/g, '');
  if (isIP(lower) === 4) {
    return (
      inIpv4Range(lower, '127.0.0.0', 8) ||
      inIpv4Range(lower, '0.0.0.0', 8) ||
      inIpv4Range(lower, '169.254.0.0', 16) ||
      inIpv4Range(lower, '224.0.0.0', 4) ||
      lower === '255.255.255.255'
    );
  }
  const groups = ipv6Groups(lower);
  if (groups === undefined) return false;
  const embedded = `${groups[6]! >> 8}.${groups[6]! & 255}.${groups[7]! >> 8}.${groups[7]! & 255}`;
  const zeros = (count: number): boolean => groups.slice(0, count).every((group) => group === 0);
  // IPv4-mapped (::ffff:a.b.c.d), IPv4-compatible (::a.b.c.d) and NAT64 (64:ff9b::a.b.c.d).
  if ((zeros(5) && groups[5] === 0xffff) || (zeros(6) && (groups[6] !== 0 || groups[7]! > 1))) {
    return isNeverByDefaultAddress(embedded);
  }
  if (groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((group) => group === 0)) {
    return isNeverByDefaultAddress(embedded);
  }
  return (
    (zeros(7) && (groups[7] === 0 || groups[7] === 1)) ||
    (groups[0]! & 0xffc0) === 0xfe80 ||
    (groups[0]! & 0xff00) === 0xff00
  );
}

function isLocalName(host: string): boolean {
  return host === 'localhost' || host.endsWith('.localhost') || host === 'localhost.';
}

function patternMatches(pattern: TargetPattern, host: string, port: number): boolean {
  if (pattern.port !== undefined && pattern.port !== port) return false;
  return pattern.wildcard
    ? host.endsWith(pattern.host) && host.length > pattern.host.length
    : host === pattern.host;
}

/** Throws TargetNotAllowedError unless `host:port` is an allowed target. */
export function checkTarget(policy: TargetPolicy, hostText: string, port: number, what: string): void {
  const host = hostText.toLowerCase().replace(/^\[|\]$/g, '');
  const shown = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  if (policy.patterns.length > 0) {
    if (policy.patterns.some((pattern) => patternMatches(pattern, host, port))) return;
    throw new TargetNotAllowedError(
      `${what} ${shown} is not an allowed target; allowed: ${policy.patterns.map((pattern) => pattern.text).join(', ')} (extend with --allow-target)`,
    );
  }
  if (isNeverByDefaultAddress(host) || isLocalName(host)) {
    throw new TargetNotAllowedError(
      `${what} ${shown} is not an allowed target: loopback, link-local and unspecified addresses are reached only when --allow-target names them (--allow-target ${shown})`,
    );
  }
}

/**
 * Addresses a name resolved to are acceptable when the name was allowed and they are not
 * never-by-default addresses, unless an `--allow-target` names that address itself.
 */
export function checkResolvedAddress(
  policy: TargetPolicy,
  host: string,
  address: string,
  port: number,
): void {
  if (!isNeverByDefaultAddress(address)) return;
  if (
    policy.patterns.some(
      (pattern) =>
        !pattern.wildcard &&
        pattern.host === address.toLowerCase() &&
        (pattern.port === undefined || pattern.port === port),
    )
  ) {
    return;
  }
  throw new TargetNotAllowedError(
    `${host}:${port} resolves to ${address}, which is not an allowed target (name the address with --allow-target to allow it)`,
  );
}

type LookupCallback = (
  error: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/**
 * A `lookup` for net.connect and tls.connect that refuses names resolving to addresses the policy
 * does not allow: it runs on every connection, so a name cannot change its answer in between.
 */
export function guardedLookup(policy: TargetPolicy, port: number) {
  return (hostname: string, options: object, callback: LookupCallback): void => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses) => {
      if (error !== null) {
        callback(error, []);
        return;
      }
      try {
        for (const entry of addresses) checkResolvedAddress(policy, hostname, entry.address, port);
      } catch (refusal) {
        callback(refusal as NodeJS.ErrnoException, []);
        return;
      }
      const wantsAll = (options as { all?: boolean }).all === true;
      if (wantsAll) callback(null, addresses);
      else callback(null, addresses[0]?.address ?? '', addresses[0]?.family ?? 4);
    });
  };
}

/**
 * Before an external program starts: the addresses its target name resolves to now. A name that
 * does not resolve is left to the program (it will fail); see docs/loadtester.md for why this is
 * a narrowing and not a guarantee for programs that resolve names themselves.
 */
export async function checkNameBeforeStart(policy: TargetPolicy, host: string, port: number): Promise<void> {
  if (isIP(host.replace(/^\[|\]$/g, '')) !== 0) return;
  const addresses = await new Promise<LookupAddress[]>((resolve) => {
    dnsLookup(host, { all: true }, (error, found) => resolve(error === null ? found : []));
  });
  for (const entry of addresses) checkResolvedAddress(policy, host, entry.address, port);
}
