/**
 * What `vireo local status` and `apply` show of each canary: the state file's phase and split,
 * the replicas of both sides and what keeps them from serving (diagnosis.ts), the last decision
 * with the sample behind its checks, whether what was applied runs yet, and warnings about
 * checks that cannot work as configured (docs/local/manifest.md "Commands").
 */
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseGoDuration } from '../../api/duration.js';
import type { Canary } from '../../api/schema/canary.js';
import type { Decision, DecisionLog } from '../../engine/decisions.js';
import { formatKey, keyOf, type CanaryKey } from '../../engine/ports.js';
import { analysisOf } from '../../engine/settings.js';
import type { LocalBackends } from './backends.js';
import type { LocalCatalog } from './catalog.js';
import { NGINX_CHECK_SERIES, windowSinceRevision } from './check-metrics.js';
import { diagnoseWorkload, type WorkloadProblem } from './diagnosis.js';
import { parseAccessLog, type AccessLogSummary } from './routing/nginx/nginx-access-log.js';
import type { TrafficRecorder } from './routing/builtin/recorder.js';
import type { LocalStateStore } from './state.js';
import type { ProcessSupervisor } from './supervisor.js';
import { workloadSpecHash } from './workload-spec.js';
import { primarySetName, targetSetName } from './workloads.js';

export interface LocalCanaryStatus {
  readonly canary: string;
  readonly phase: string;
  readonly canaryWeight: number;
  readonly primaryWeight: number;
  readonly failedChecks: number;
  readonly url: string | undefined;
  readonly primaryReplicas: string;
  readonly canaryReplicas: string;
  /** Requests the router answered per arm over the recorder's retention (15 min of engine time). */
  readonly served: { readonly primary: number; readonly canary: number };
  readonly lastTransitionTime?: string;
  /** The spec the primary runs (first 8 hex of its hash). */
  readonly primaryRevision?: string;
  /** The revision under analysis, or last analysed (`status.lastAppliedSpec`). */
  readonly canaryRevision?: string;
  /** The Workload's spec as applied last. */
  readonly manifestRevision?: string;
  /** The engine's last decision, with what a user needs to act on it. */
  readonly lastDecision?: LocalDecisionNote;
  /** What keeps the primary's or the canary's processes from serving, in words (diagnosis.ts). */
  readonly problems: readonly string[];
  /** Whether the applied Workload runs: what `vireo local apply` waits for. */
  readonly rollout: LocalRollout;
  /** Why the built-in checks cannot work as configured (`router: nginx` without the histogram they read). */
  readonly warnings: readonly string[];
}

export interface LocalDecisionNote {
  readonly time: string;
  readonly action: string;
  readonly message: string;
  /** The sample behind a check (requests the canary answered in the window), or how to get one. */
  readonly detail?: string;
}

export interface LocalRollout {
  /** ready: runs (or waits for an approval); progressing: starting; failed: will not start. */
  readonly state: 'ready' | 'progressing' | 'failed';
  readonly message: string;
}

const revisionOf = (hash: string | undefined): string | undefined => hash?.slice(0, 8);

/** What status() shows beyond the state file: the last decision and warning of each canary. */
interface RuntimeNotes {
  readonly decisions: Map<string, LocalDecisionNote>;
  readonly warnings: Map<string, string>;
  /** By primary spec hash: the nginx-path series check's outcome (a warning, or '' when fine), or pending. */
  readonly seriesChecks: Map<string, Promise<void> | string>;
}

/** The series the built-in checks' `kubernetes` queries read on the nginx path, as exposition names. */
const NGINX_SERIES_NAMES = ['http_request_duration_seconds_count', 'http_request_duration_seconds_bucket'];

/** What a program's GET /metrics lacks of the series the nginx-path checks read ('' when nothing). */
async function missingSeries(url: string): Promise<string> {
  try {
    const answer = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
    const text = answer.ok ? await answer.text() : '';
    const absent = NGINX_SERIES_NAMES.filter((name) => !new RegExp(`^${name}[{ ]`, 'm').test(text));
    if (absent.length === 0) return '';
    return `${url}/metrics ${answer.ok ? 'has no' : `answered ${answer.status}, so no`} ${absent.join(' or ')}`;
  } catch (cause) {
    return `${url}/metrics could not be read (${cause instanceof Error ? cause.message : String(cause)})`;
  }
}

/** The recorder keeps 15 minutes; asking for more returns all it has. */
const ALL_RETAINED_MS = 15 * 60 * 1000;

export interface LocalStatusReportDeps {
  readonly stateDirectory: string;
  readonly catalog: LocalCatalog;
  readonly state: LocalStateStore;
  readonly supervisor: ProcessSupervisor;
  readonly recorder: TrafficRecorder;
  readonly backends: LocalBackends;
  /** Engine-clock epoch ms. */
  readonly now: () => number;
}

export class LocalStatusReport {
  private readonly notes: RuntimeNotes = {
    decisions: new Map(),
    warnings: new Map(),
    seriesChecks: new Map(),
  };
  private accessLogCache: { size: number; summary: AccessLogSummary } | undefined;

  constructor(private readonly deps: LocalStatusReportDeps) {}

  /** After a restart: each canary's last decision, from the decision log. */
  async recallDecisions(decisions: DecisionLog): Promise<void> {
    for (const canary of this.deps.catalog.canaries) {
      const [last] = await decisions.recent(keyOf(canary), 1).catch(() => []);
      if (last !== undefined) this.notes.decisions.set(formatKey(keyOf(canary)), { ...last });
    }
  }

  /** The canary's last warning event: why a primary that never came up failed. */
  noteWarning(canary: Canary, message: string): void {
    this.notes.warnings.set(formatKey(keyOf(canary)), message);
  }

  /** The canary's last decision, with the sample behind its checks. */
  noteDecision(key: CanaryKey, decision: Decision): void {
    const detail = this.detailOf(key, decision);
    this.notes.decisions.set(formatKey(key), {
      time: decision.time,
      action: decision.action,
      message: decision.message,
      ...(detail === undefined ? {} : { detail }),
    });
  }

  /** The sample behind a decision's checks, or how to bring one (docs/local/manifest.md). */
  private detailOf(key: CanaryKey, decision: Decision): string | undefined {
    const { catalog, state, recorder } = this.deps;
    const canary = catalog.canary(key);
    const outcome = decision.checks?.find((check) => check.verdict === 'fail') ?? decision.checks?.at(-1);
    if (canary === undefined || outcome === undefined) return undefined;
    const metric = analysisOf(canary.spec)?.metrics?.find((candidate) => candidate.name === outcome.check);
    if (metric === undefined || metric.templateRef !== undefined) return undefined;
    if (outcome.value === undefined) {
      const error = outcome.evidence?.['error'];
      return typeof error === 'string' ? error : undefined;
    }
    if (catalog.usesNginx(canary)) return undefined;
    const window = windowSinceRevision(
      metric.interval ?? '1m',
      state.peek(key)?.canarySince,
      this.deps.now(),
    );
    const windowMs = parseGoDuration(window) ?? 60_000;
    const requests = recorder.observe(key.namespace, canary.spec.targetRef.name, windowMs).canary.requests;
    return `measured over ${requests} canary request${requests === 1 ? '' : 's'} in the last ${window}`;
  }

  status(): LocalCanaryStatus[] {
    const logs = join(this.deps.stateDirectory, 'logs');
    return this.deps.catalog.canaries.map((canary) => {
      const key = keyOf(canary);
      const entry = this.deps.state.peek(key);
      const setNames = [primarySetName(canary), targetSetName(canary)] as const;
      const sets = setNames.map((set) => this.deps.supervisor.status(set));
      const replicas = (index: number): string => `${sets[index]?.ready ?? 0}/${sets[index]?.desired ?? 0}`;
      // A set scaled to zero serves nothing and is asked nothing: its old start failure is history.
      const problems = setNames.map((set, index) =>
        (sets[index]?.desired ?? 0) > 0 ? diagnoseWorkload(set, sets[index], logs) : undefined,
      );
      const manifest = this.deps.catalog.spec(key.namespace, canary.spec.targetRef.name);
      const lastDecision = this.notes.decisions.get(formatKey(key));
      const primaryRevision = revisionOf(entry?.primarySpec && workloadSpecHash(entry.primarySpec));
      const canaryRevision = revisionOf(entry?.status.lastAppliedSpec);
      const manifestRevision = revisionOf(manifest && workloadSpecHash(manifest));
      return {
        canary: formatKey(key),
        phase: entry?.status.phase ?? '',
        canaryWeight: entry?.routes.canaryWeight ?? 0,
        primaryWeight: entry?.routes.primaryWeight ?? 100,
        failedChecks: entry?.status.failedChecks ?? 0,
        url: this.deps.backends.url(key.namespace, canary.spec.targetRef.name),
        primaryReplicas: replicas(0),
        canaryReplicas: replicas(1),
        served: this.served(canary),
        ...(entry?.status.lastTransitionTime === undefined
          ? {}
          : { lastTransitionTime: entry.status.lastTransitionTime }),
        ...(primaryRevision === undefined ? {} : { primaryRevision }),
        ...(canaryRevision === undefined ? {} : { canaryRevision }),
        ...(manifestRevision === undefined ? {} : { manifestRevision }),
        ...(lastDecision === undefined ? {} : { lastDecision }),
        problems: problems.flatMap((problem) => (problem === undefined ? [] : [problem.message])),
        rollout: this.rolloutOf(canary, problems),
        warnings: this.checkWarnings(canary),
      };
    });
  }

  /**
   * `router: nginx` built-in checks read a histogram the program itself must export: once a primary
   * replica serves, its GET /metrics is read once per spec, and a warning names what is missing
   * (issue 13, item 6). Until the answer is in, the rollout waits for it.
   */
  private checkWarnings(canary: Canary): string[] {
    const pending = this.seriesCheck(canary);
    return typeof pending === 'string' && pending !== '' ? [pending] : [];
  }

  private seriesCheck(canary: Canary): Promise<void> | string | undefined {
    const builtin = (analysisOf(canary.spec)?.metrics ?? []).filter(
      (metric) =>
        metric.templateRef === undefined &&
        (metric.name === 'request-success-rate' || metric.name === 'request-duration'),
    );
    const primarySpec = this.deps.state.peek(keyOf(canary))?.primarySpec;
    if (!this.deps.catalog.usesNginx(canary) || builtin.length === 0 || primarySpec === undefined)
      return undefined;
    const hash = workloadSpecHash(primarySpec);
    const known = this.notes.seriesChecks.get(hash);
    if (known !== undefined) return known;
    const [endpoint] = this.deps.supervisor.endpoints(primarySetName(canary));
    if (endpoint === undefined) return undefined;
    const names = builtin.map((metric) => metric.name).join(' and ');
    const check = missingSeries(endpoint).then((missing) => {
      this.notes.seriesChecks.set(
        hash,
        missing === ''
          ? ''
          : `Workload ${canary.spec.targetRef.name} has router: nginx, so the built-in checks ${names} read ${NGINX_CHECK_SERIES} from your program, but ${missing}: every release will halt with "no values found" and roll back even with traffic; export that histogram (with a status label), use router: builtin, or MetricTemplates of your own`,
      );
    });
    this.notes.seriesChecks.set(hash, check);
    return check;
  }

  /** Whether what was applied runs: the primary at first, then each new revision's canary processes. */
  private rolloutOf(canary: Canary, problems: readonly (WorkloadProblem | undefined)[]): LocalRollout {
    const key = keyOf(canary);
    const entry = this.deps.state.peek(key);
    const status = entry?.status ?? {};
    const phase = status.phase ?? '';
    const [primaryProblem, canaryProblem] = problems;
    const fatal = problems.find((problem) => problem?.fatal === true);
    if (fatal !== undefined) return { state: 'failed', message: fatal.message };
    if (phase === '' || phase === 'Initializing') {
      return { state: 'progressing', message: primaryProblem?.message ?? 'starting the primary' };
    }
    if (phase === 'Failed' && status.lastPromotedSpec === undefined) {
      const why =
        this.notes.warnings.get(formatKey(key)) ?? this.notes.decisions.get(formatKey(key))?.message;
      return {
        state: 'failed',
        message: `the primary never became ready${why === undefined ? '' : `: ${why}`}`,
      };
    }
    const manifest = this.deps.catalog.spec(key.namespace, canary.spec.targetRef.name);
    const wanted = manifest === undefined ? undefined : workloadSpecHash(manifest);
    const revision = revisionOf(wanted) ?? '-';
    if (wanted !== undefined && wanted !== status.lastAppliedSpec && wanted !== status.lastPromotedSpec) {
      return { state: 'progressing', message: `revision ${revision} waits for the engine's next tick` };
    }
    if (phase === 'Waiting') return { state: 'ready', message: 'waiting for approval (confirm-rollout)' };
    if (entry !== undefined && !entry.targetScaledToZero && status.lastAppliedSpec === wanted) {
      const moved =
        entry.canarySpec !== undefined && workloadSpecHash(entry.canarySpec) === status.lastAppliedSpec;
      if (moved && this.deps.supervisor.readiness(targetSetName(canary))) {
        return { state: 'ready', message: `revision ${revision} runs; its analysis decides the rest` };
      }
      return {
        state: 'progressing',
        message: canaryProblem?.message ?? `the canary moves to revision ${revision}`,
      };
    }
    if (primaryProblem !== undefined) return { state: 'progressing', message: primaryProblem.message };
    if (typeof this.seriesCheck(canary) === 'object') {
      return {
        state: 'progressing',
        message: `reading the primary's GET /metrics for ${NGINX_CHECK_SERIES}`,
      };
    }
    return { state: 'ready', message: `phase ${phase}` };
  }

  private served(canary: Canary): { primary: number; canary: number } {
    const { namespace } = keyOf(canary);
    const service = canary.spec.targetRef.name;
    if (this.deps.catalog.usesNginx(canary)) {
      const arms = this.accessLogSummary()?.routes[`${namespace}/${service}`];
      return { primary: arms?.primary.requests ?? 0, canary: arms?.canary.requests ?? 0 };
    }
    return this.deps.recorder.served(namespace, service, ALL_RETAINED_MS);
  }

  /** nginx's own count of what it served, re-read only when the log has grown. */
  private accessLogSummary(): AccessLogSummary | undefined {
    const path = this.deps.backends.nginx.accessLogPath;
    if (path === undefined) return undefined;
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      return undefined;
    }
    if (this.accessLogCache?.size !== size) {
      this.accessLogCache = { size, summary: parseAccessLog(readFileSync(path, 'utf8')) };
    }
    return this.accessLogCache.summary;
  }
}
