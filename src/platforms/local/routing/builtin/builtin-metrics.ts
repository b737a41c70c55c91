/**
 * Local mode's answers to the built-in checks (request-success-rate, request-duration) and to
 * comparison judges' per-arm observations, read from the built-in router's TrafficRecorder:
 * no Prometheus involved. The series is the canary's namespace and `spec.targetRef.name`, the
 * labels the router records under (LocalRoute.namespace / LocalRoute.service).
 */
import { parseGoDuration } from '../../../../api/duration.js';
import type { Canary } from '../../../../api/schema/canary.js';
import { NoValuesFoundError, type ArmObservations, type BuiltinMetrics } from '../../../../engine/checks.js';
import { formatKey, keyOf } from '../../../../engine/ports.js';
import { VireoError } from '../../../../shared/errors.js';
import type { TrafficRecorder } from './recorder.js';

/** Flagger's default analysis interval, used when a canary does not set one. */
const DEFAULT_ANALYSIS_INTERVAL = '1m';

export interface LocalBuiltinMetricsOptions {
  /**
   * The window `observe` reads for a canary, as a Go duration. Default: the canary's analysis
   * interval, i.e. the traffic since the previous analysis step.
   */
  readonly observationWindow?: (canary: Canary) => string;
}

export class LocalBuiltinMetrics implements BuiltinMetrics {
  private readonly observationWindow: (canary: Canary) => string;

  constructor(
    private readonly recorder: TrafficRecorder,
    options: LocalBuiltinMetricsOptions = {},
  ) {
    this.observationWindow =
      options.observationWindow ?? ((canary) => canary.spec.analysis.interval ?? DEFAULT_ANALYSIS_INTERVAL);
  }

  /** Percentage of non-5xx canary answers over `interval`; NoValuesFoundError without traffic. */
  requestSuccessRate(canary: Canary, interval: string): Promise<number> {
    return settle(() => {
      const { namespace, service } = series(canary);
      const rate = this.recorder.successRate(namespace, service, 'canary', windowMs(interval));
      return rate ?? noTraffic(canary, interval);
    });
  }

  /** P99 of canary answers over `interval`, milliseconds; NoValuesFoundError without traffic. */
  requestDurationMs(canary: Canary, interval: string): Promise<number> {
    return settle(() => {
      const { namespace, service } = series(canary);
      const seconds = this.recorder.latencyQuantile(namespace, service, 'canary', 0.99, windowMs(interval));
      return seconds === undefined ? noTraffic(canary, interval) : seconds * 1000;
    });
  }

  /** Canary answers over `interval`: the built-in checks' sample size. */
  requestCount(canary: Canary, interval: string): Promise<number> {
    return settle(() => {
      const { namespace, service } = series(canary);
      return this.recorder.observe(namespace, service, windowMs(interval)).canary.requests;
    });
  }

  /** Both arms over the observation window (zero counts when there was no traffic). */
  observe(canary: Canary): Promise<{ canary: ArmObservations; primary: ArmObservations }> {
    return settle(() => {
      const { namespace, service } = series(canary);
      return this.recorder.observe(namespace, service, windowMs(this.observationWindow(canary)));
    });
  }
}

/** Runs synchronous work as a promise, so every failure is a rejection, never a throw. */
function settle<T>(work: () => T): Promise<T> {
  try {
    return Promise.resolve(work());
  } catch (cause) {
    return Promise.reject(cause instanceof Error ? cause : new Error(String(cause)));
  }
}

function series(canary: Canary): { namespace: string; service: string } {
  return { namespace: keyOf(canary).namespace, service: canary.spec.targetRef.name };
}

function windowMs(interval: string): number {
  const milliseconds = parseGoDuration(interval);
  if (milliseconds === undefined || milliseconds <= 0) {
    throw new VireoError(
      'E_INVALID_INTERVAL',
      `metric interval "${interval}" is not a positive duration: write it like 1m or 30s`,
    );
  }
  return milliseconds;
}

function noTraffic(canary: Canary, interval: string): never {
  throw new NoValuesFoundError(
    `the canary ${formatKey(keyOf(canary))} received no traffic through the local router in the last ${interval}`,
  );
}
