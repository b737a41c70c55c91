/**
 * What local mode's checks read: the built-in checks from each canary's router (the built-in
 * proxy's recorder, or Prometheus scraping the replicas for `router: nginx`), and the per-arm
 * observations a comparison judge reads through its check context (docs/local/README.md,
 * docs/engine.md "Checks").
 */
import { parseGoDuration } from '../../api/duration.js';
import type { Canary } from '../../api/schema/canary.js';
import {
  NoValuesFoundError,
  type ArmTraffic,
  type BuiltinMetrics,
  type TrafficObservations,
} from '../../engine/checks.js';
import { formatKey, keyOf } from '../../engine/ports.js';
import { VireoError } from '../../shared/errors.js';
import {
  DEFAULT_RETENTION_SECONDS,
  TrafficRecorder,
  type ProxiedRequest,
} from './routing/builtin/recorder.js';

/** Said with every "no values found": the built-in checks need client traffic (docs/local/manifest.md). */
export function noTrafficHint(url: string | undefined, usesNginx: boolean): string {
  const where = url ?? "the Canary's service.port";
  const bring = `send traffic to ${where}, for instance with a rollout webhook of type load to vireo loadtester (docs/loadtester.md), or your own client; vireo demo brings its own load`;
  if (!usesNginx) return `the built-in checks measure client traffic through the router: ${bring}`;
  return `with router: nginx the built-in checks read the series ${NGINX_CHECK_SERIES} that your program must export on GET /metrics (with a status label), scraped by Prometheus: without them they find nothing even when traffic flows (use router: builtin, or MetricTemplates of your own); with them, ${bring}`;
}

/** What Flagger's `kubernetes` built-in queries read on the nginx path (docs/local/manifest.md). */
export const NGINX_CHECK_SERIES =
  'http_request_duration_seconds_count and http_request_duration_seconds_bucket';

/**
 * While a (re)started runtime brings its replicas back, the router already listens (so no replica
 * can be handed its port) but has nobody to forward to, and answers 503 itself. Those answers say
 * that local mode was restarting, not that a canary is unhealthy: nothing is recorded until the
 * resumed replicas are ready, so no check counts them (docs/local/README.md#the-daemon).
 */
export class ResumingRecorder extends TrafficRecorder {
  resuming = true;

  override record(request: ProxiedRequest): void {
    if (!this.resuming) super.record(request);
  }
}

/** Each canary's built-in checks from its router's metrics: the proxy's recorder or Prometheus. */
export class PerRouterBuiltinMetrics implements BuiltinMetrics {
  constructor(
    private readonly choose: (canary: Canary) => BuiltinMetrics,
    private readonly window: (canary: Canary, interval: string) => string,
    /** Said with "no values found": how to bring the traffic the checks need. */
    private readonly hint: (canary: Canary) => string,
  ) {}

  requestSuccessRate(canary: Canary, interval: string): Promise<number> {
    return this.explained(canary, () =>
      this.choose(canary).requestSuccessRate(canary, this.window(canary, interval)),
    );
  }

  requestDurationMs(canary: Canary, interval: string): Promise<number> {
    return this.explained(canary, () =>
      this.choose(canary).requestDurationMs(canary, this.window(canary, interval)),
    );
  }

  requestCount(canary: Canary, interval: string): Promise<number> {
    const metrics = this.choose(canary);
    if (metrics.requestCount === undefined) return Promise.reject(new Error('no request count'));
    return metrics.requestCount(canary, this.window(canary, interval));
  }

  private async explained(canary: Canary, query: () => Promise<number>): Promise<number> {
    try {
      return await query();
    } catch (cause) {
      if (cause instanceof NoValuesFoundError) {
        throw new NoValuesFoundError(`${cause.message}; ${this.hint(canary)}`);
      }
      throw cause;
    }
  }
}

/**
 * The metric window, shortened so it starts no earlier than the run of the revision under
 * analysis (`since`): the router records per arm, not per revision, and what an earlier revision
 * answered must not vouch for this one (docs/local/workloads.md). Whole seconds, at least 1.
 */
export function windowSinceRevision(interval: string, since: number | undefined, now: number): string {
  const intervalMs = parseGoDuration(interval);
  if (intervalMs === undefined || since === undefined) return interval;
  const elapsedMs = now - since;
  if (elapsedMs >= intervalMs) return interval;
  return `${Math.max(1, Math.ceil(elapsedMs / 1000))}s`;
}

/**
 * Prometheus scrapes every second; a window shorter than 5 s could hold fewer than the two
 * samples rate() needs, and would make accelerated runs flaky.
 */
export const SCRAPE_INTERVAL_SECONDS = 1;
export const MINIMUM_PROMETHEUS_WINDOW_SECONDS = 5;

/** The canary's router does not count per arm. */
export class NoArmObservationsError extends VireoError {
  constructor(message: string) {
    super('E_NO_ARM_OBSERVATIONS', message);
  }
}

export interface LocalArmObservationsDeps {
  readonly recorder: TrafficRecorder;
  /** Engine-clock ms when the target's processes started running the revision under analysis. */
  readonly canarySince: (canary: Canary) => number | undefined;
  readonly usesNginx: (canary: Canary) => boolean;
  /** Engine-clock epoch ms (accelerated with `speed`, as the recorder's). */
  readonly now: () => number;
  /** How far back the recorder keeps traffic (default: its default, 15 minutes). */
  readonly retentionMs?: number;
}

/**
 * Per-arm counts and latency histograms from the built-in router's recorder, for a judge that
 * compares the canary with the primary. The counts start at `since` (the analysis start), but
 * never before the target's processes moved to the revision under analysis (the router records
 * per arm, not per revision: what an earlier revision answered must not count for this one), nor
 * before what the recorder still keeps. Whole seconds: at most one second more is read.
 */
export class LocalArmObservations implements TrafficObservations {
  constructor(private readonly deps: LocalArmObservationsDeps) {}

  observe(canary: Canary, since: Date): Promise<ArmTraffic> {
    if (this.deps.usesNginx(canary)) {
      return Promise.reject(
        new NoArmObservationsError(
          `${formatKey(keyOf(canary))} is routed by nginx, which does not count per arm: per-arm observations come from router: builtin`,
        ),
      );
    }
    const now = this.deps.now();
    const retentionMs = this.deps.retentionMs ?? DEFAULT_RETENTION_SECONDS * 1000;
    const from = Math.min(
      now,
      Math.max(since.getTime(), this.deps.canarySince(canary) ?? -Infinity, now - retentionMs),
    );
    const arms = this.deps.recorder.observe(
      keyOf(canary).namespace,
      canary.spec.targetRef.name,
      Math.max(1, now - from),
    );
    return Promise.resolve({ ...arms, from: new Date(from), to: new Date(now) });
  }
}
