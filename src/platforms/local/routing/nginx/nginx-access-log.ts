/**
 * Reads the nginx router's access log (one JSON object per request, written by the `vireo_<id>`
 * log formats of nginx-config.ts) back into per-route, per-arm counts by status, so tests and the
 * demo can check the split nginx actually served. nginx has no per-upstream metrics of its own;
 * the canary checks come from Prometheus scraping the workloads, and this log is the ground truth
 * for "what went where".
 *
 * Mirror copies are subrequests, which nginx does not log: the counts are client-visible requests.
 */

export type LoggedArm = 'primary' | 'canary' | 'none';

export interface AccessLogEntry {
  readonly time: string;
  /** `<namespace>/<service>`. */
  readonly route: string;
  /** `none` when neither arm had replicas (the 503 answer). */
  readonly arm: LoggedArm;
  /** `<arm>-<reason>`: reason `sticky` (session cookie), `match` (A/B) or `weight`; or `none`. */
  readonly decision: string;
  readonly status: number;
  readonly method: string;
  readonly uri: string;
  readonly requestTimeSeconds: number;
  /** nginx's `$upstream_status`: one status per upstream tried, e.g. "502, 200"; empty when none. */
  readonly upstreamStatus: string;
  /** Sum of the tries' `$upstream_response_time`; undefined when no upstream answered. */
  readonly upstreamResponseTimeSeconds: number | undefined;
  readonly upstreamAddress: string;
  readonly bytesSent: number;
  readonly requestId: string;
  /** The config generation that served the request. */
  readonly generation: number;
}

export interface ArmTraffic {
  readonly requests: number;
  /** Requests by the status nginx sent to the client, e.g. `{ 200: 95, 502: 5 }`. */
  readonly byStatus: Readonly<Record<number, number>>;
  /** Requests with an upstream response time, and the sum of those times. */
  readonly upstreamTimed: number;
  readonly upstreamSecondsSum: number;
}

export interface AccessLogSummary {
  /** Keyed by `<namespace>/<service>`; every route seen has all three arms. */
  readonly routes: Readonly<Record<string, Readonly<Record<LoggedArm, ArmTraffic>>>>;
  /** Lines that were not entries of this format (other formats, truncated last line). */
  readonly malformed: number;
}

const ARMS: readonly LoggedArm[] = ['primary', 'canary', 'none'];

/** One log line, or undefined when it is not an entry of the router's format. */
export function parseAccessLogLine(line: string): AccessLogEntry | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const record = raw as Record<string, unknown>;
  const text = (key: string): string | undefined =>
    typeof record[key] === 'string' ? record[key] : undefined;
  const number = (key: string): number | undefined =>
    typeof record[key] === 'number' && Number.isFinite(record[key]) ? record[key] : undefined;
  const arm = text('arm');
  const route = text('route');
  const status = number('status');
  if (route === undefined || status === undefined || !ARMS.includes(arm as LoggedArm)) return undefined;
  return {
    time: text('time') ?? '',
    route,
    arm: arm as LoggedArm,
    decision: text('decision') ?? '',
    status,
    method: text('method') ?? '',
    uri: text('uri') ?? '',
    requestTimeSeconds: number('request_time') ?? 0,
    upstreamStatus: text('upstream_status') ?? '',
    upstreamResponseTimeSeconds: sumOfTimes(text('upstream_response_time') ?? ''),
    upstreamAddress: text('upstream_addr') ?? '',
    bytesSent: number('bytes_sent') ?? 0,
    requestId: text('request_id') ?? '',
    generation: number('generation') ?? 0,
  };
}

/**
 * `$upstream_response_time` lists one time per upstream tried, separated by ", " (next upstream)
 * or " : " (internal redirect); "-" marks a try without an answer.
 */
function sumOfTimes(value: string): number | undefined {
  const times = value
    .split(/[,:]/)
    .map((part) => part.trim())
    .filter((part) => /^\d+(\.\d+)?$/.test(part))
    .map(Number);
  return times.length === 0 ? undefined : times.reduce((a, b) => a + b, 0);
}

/** Counts per route and arm; accepts the log's text or its lines. */
export function parseAccessLog(lines: string | Iterable<string>): AccessLogSummary {
  const routes: Record<string, Record<LoggedArm, MutableArm>> = {};
  let malformed = 0;
  const all = typeof lines === 'string' ? lines.split('\n') : lines;
  for (const line of all) {
    if (line.trim() === '') continue;
    const entry = parseAccessLogLine(line);
    if (entry === undefined) {
      malformed += 1;
      continue;
    }
    const arms = (routes[entry.route] ??= { primary: emptyArm(), canary: emptyArm(), none: emptyArm() });
    const arm = arms[entry.arm];
    arm.requests += 1;
    arm.byStatus[entry.status] = (arm.byStatus[entry.status] ?? 0) + 1;
    if (entry.upstreamResponseTimeSeconds !== undefined) {
      arm.upstreamTimed += 1;
      arm.upstreamSecondsSum += entry.upstreamResponseTimeSeconds;
    }
  }
  return { routes, malformed };
}

interface MutableArm {
  requests: number;
  byStatus: Record<number, number>;
  upstreamTimed: number;
  upstreamSecondsSum: number;
}

function emptyArm(): MutableArm {
  return { requests: 0, byStatus: {}, upstreamTimed: 0, upstreamSecondsSum: 0 };
}
