/**
 * `vireo demo`: the seed-000 scenario, live, on local mode (src/platforms/local/demo-scenario.ts).
 * The terminal shows every analysis step as it happens (weights, each check's value against its
 * threshold, the events and alerts) and a summary with timings; `--json` prints one JSON object
 * per line instead. Exit status 0 only when V2 was rolled back and V3 promoted.
 */
import { join } from 'node:path';
import { parseGoDuration } from '../api/duration.js';
import type { CheckOutcome } from '../engine/checks.js';
import { runDemoScenario, type DemoOutcome } from '../platforms/local/demo-scenario.js';
import type { LocalCanaryStatus, LocalEvent } from '../platforms/local/runtime.js';
import { UsageError } from '../shared/errors.js';
import type { CliIo } from './main.js';

export interface DemoCommandOptions {
  readonly json?: boolean;
  /** Realistic speed: the analysis interval, e.g. 1m. Without it, 10 s intervals run 10× faster. */
  readonly interval?: string;
  /** builtin (default) or nginx: real nginx routes, a real Prometheus measures, hey loads. */
  readonly router?: string;
}

const ACCELERATED_INTERVAL = '10s';
const ACCELERATED_NGINX_INTERVAL = '30s';
const ACCELERATION = 10;
const SERVICE_ENTRY = join(import.meta.dirname, '..', 'platforms', 'local', 'demo-service-main.js');

/** Where stop signals come from (the process; tests pass an emitter). */
export interface DemoHost {
  readonly signals: Pick<NodeJS.Process, 'on' | 'off'>;
  /** Exits at once; used on a second signal, when the person at the terminal does not want to wait. */
  readonly exit: (code: number) => never;
}

const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143 } as const;
type StopSignal = keyof typeof STOP_SIGNALS;

export async function runDemo(
  options: DemoCommandOptions,
  io: CliIo,
  host: DemoHost = { signals: process, exit: (code) => process.exit(code) },
): Promise<number> {
  // Prometheus scrapes every second: 3 s between steps leaves it several scrapes of each new split.
  const interval =
    options.interval ?? (options.router === 'nginx' ? ACCELERATED_NGINX_INTERVAL : ACCELERATED_INTERVAL);
  const intervalMs = parseGoDuration(interval);
  if (intervalMs === undefined || intervalMs < 10_000) {
    throw new UsageError(
      `--interval ${JSON.stringify(interval)}: use a duration of at least 10s, such as 30s or 1m`,
    );
  }
  const router = options.router ?? 'builtin';
  if (router !== 'builtin' && router !== 'nginx') {
    throw new UsageError(`--router ${JSON.stringify(router)}: use builtin or nginx`);
  }
  const speed = options.interval === undefined ? ACCELERATION : 1;
  const started = Date.now();
  const elapsed = (): string => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
  const json = options.json === true;
  if (!json) {
    io.stdout(
      `Vireo demo: a web service released three times on this machine, with live traffic.\n` +
        (router === 'nginx'
          ? 'Routing: real nginx, configured and reloaded by Vireo. Measuring: a real Prometheus scraping the replicas. Load: hey when installed.\n'
          : "Routing and measuring: Vireo's built-in router. Load: Vireo's load generator.\n") +
        (speed === 1
          ? `Analysis every ${interval}.\n`
          : `Time runs ${speed}× faster: a ${interval} analysis step takes ${intervalMs / speed / 1000}s.\n`) +
        `Alerts: every alert is shown here; the on-call webhook is subscribed to severity error only.\n`,
    );
  }
  // Alerts raised, by severity: the live view shows them all, the webhook receives errors only.
  const raised = new Map<string, number>();
  // Canary requests counted at the previous decision: each check line says how many it judged.
  let canaryServedBefore: number | undefined;
  // Ctrl-C or SIGTERM: stop every process the demo started, then exit 130 or 143. A second
  // signal exits at once; the replicas' process groups are then killed by the supervisor's exit hook.
  const interruption = new AbortController();
  let received: StopSignal | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    const name = signal as StopSignal;
    if (received !== undefined) {
      io.stderr(`vireo demo: ${name} again, exiting without waiting\n`);
      host.exit(STOP_SIGNALS[name]);
    }
    received = name;
    io.stderr(`\nvireo demo: ${name}, stopping the demo's processes (again to exit at once)\n`);
    interruption.abort();
  };
  for (const name of Object.keys(STOP_SIGNALS)) host.signals.on(name, onSignal);
  let outcome: DemoOutcome;
  try {
    outcome = await runDemoScenario({
      signal: interruption.signal,
      interval,
      speed,
      router,
      serviceEntry: SERVICE_ENTRY,
      onStage: (stage) => {
        if (json)
          io.stdout(
            `${JSON.stringify({ time: new Date().toISOString(), type: 'release', canary: 'web.demo', phase: '', canaryWeight: 0, primaryWeight: 100, message: stage.description, version: stage.version })}\n`,
          );
        else io.stdout(`\n${elapsed()}  ── ${stage.description}\n${stageNote(stage.version, router)}`);
      },
      onEvent: (event, status) => {
        if (event.type === 'alert') {
          const severity = event.severity ?? 'info';
          raised.set(severity, (raised.get(severity) ?? 0) + 1);
        }
        let judged: number | undefined;
        if (event.type === 'decision' && status !== undefined) {
          judged = canaryServedBefore === undefined ? undefined : status.served.canary - canaryServedBefore;
          canaryServedBefore = status.served.canary;
        }
        if (json) io.stdout(`${JSON.stringify(jsonLine(event, status))}\n`);
        else io.stdout(liveLine(elapsed(), event, status, judged));
      },
    });
  } catch (error) {
    if (received === undefined) throw error;
    io.stderr(`vireo demo: stopped by ${received}; every process it started has exited\n`);
    return STOP_SIGNALS[received];
  } finally {
    for (const name of Object.keys(STOP_SIGNALS)) host.signals.off(name, onSignal);
  }
  const alertsRaised = Object.fromEntries(raised);
  if (json) {
    io.stdout(
      `${JSON.stringify({ time: new Date().toISOString(), type: 'summary', canary: 'web.demo', phase: outcome.stages.at(-1)?.outcome ?? '', canaryWeight: 0, primaryWeight: 100, message: summaryMessage(outcome), outcome, alertsRaised })}\n`,
    );
  } else {
    io.stdout(summary(outcome, alertsRaised, router));
  }
  return outcome.v2RolledBack && outcome.v3Promoted ? 0 : 1;
}

/**
 * What a stage's numbers mean, shown once under its banner. The request-duration check is the
 * p99 of a latency histogram (the built-in router's buckets, or the demo service's for
 * Prometheus): answers of 600 ms fall in the 500 ms–1 s bucket, and the quantile is interpolated
 * inside it as Prometheus's histogram_quantile does, so the check reads close to 1 s.
 */
function stageNote(version: string, router: string): string {
  const pad = ' '.repeat(9);
  if (version !== '2.0.0') return '';
  return (
    `${pad}request-duration is a p99 read from a histogram (${router === 'nginx' ? 'Prometheus over the replicas' : "the router's"}) whose buckets are 500 ms and 1 s:\n` +
    `${pad}600 ms answers land in that bucket, and the p99 is interpolated inside it, so it reads close to 1 s.\n`
  );
}

/**
 * One JSON line. `time` is the wall clock when the line was printed, so it never goes backwards;
 * `engineTime` is the engine's own (accelerated) clock, which runs `speed` times faster.
 */
function jsonLine(event: LocalEvent, status: LocalCanaryStatus | undefined): Record<string, unknown> {
  return {
    time: new Date().toISOString(),
    engineTime: event.time,
    type: event.type,
    canary: event.canary,
    phase: event.decision?.phase ?? status?.phase ?? '',
    canaryWeight: event.decision?.canaryWeight ?? status?.canaryWeight ?? 0,
    primaryWeight: event.decision?.primaryWeight ?? status?.primaryWeight ?? 100,
    message: event.message,
    ...(status === undefined ? {} : { served: status.served }),
    ...(event.severity === undefined ? {} : { severity: event.severity }),
    ...(event.decision?.checks === undefined ? {} : { checks: event.decision.checks.map(checkJson) }),
  };
}

const checkJson = (check: CheckOutcome): Record<string, unknown> => ({
  check: check.check,
  verdict: check.verdict,
  value: check.value,
  unit: check.unit,
  threshold: check.threshold,
  ...(check.verdict === 'fail' ? { message: check.message } : {}),
});

function weightBar(canaryWeight: number): string {
  const filled = Math.round(canaryWeight / 10);
  return `[${'█'.repeat(filled)}${'·'.repeat(10 - filled)}] canary ${String(canaryWeight).padStart(3)}%`;
}

function describeCheck(check: CheckOutcome): string {
  const value =
    check.value === undefined ? 'no data' : `${Number(check.value.toFixed(2))}${check.unit ?? ''}`;
  const { min, max } = check.threshold ?? {};
  const bound = [min === undefined ? '' : `min ${min}`, max === undefined ? '' : `max ${max}`]
    .filter(Boolean)
    .join(', ');
  const mark = check.verdict === 'pass' ? '✓' : check.verdict === 'fail' ? '✗' : '…';
  return `${mark} ${check.check} ${value}${bound === '' ? '' : ` (${bound})`}`;
}

function liveLine(
  time: string,
  event: LocalEvent,
  status: LocalCanaryStatus | undefined,
  judged: number | undefined,
): string {
  if (event.type === 'decision' && event.decision !== undefined) {
    const decision = event.decision;
    const sample =
      judged === undefined ? '' : `   (canary answered ${judged} request(s) since the last step)`;
    const described = (decision.checks ?? []).map(describeCheck).join('   ');
    const checks = described === '' ? '' : `${described}${sample}`;
    const head = `${time}  ${decision.phase.padEnd(16)} ${weightBar(decision.canaryWeight)}`;
    return `${head}  ${decision.message}\n${checks === '' ? '' : `${' '.repeat(time.length + 2)}${checks}\n`}`;
  }
  if (event.type === 'alert') {
    const where = event.severity === 'error' ? ' (sent to the on-call webhook)' : ' (shown here only)';
    return `${time}  ALERT ${event.severity ?? ''}: ${event.message}${where}\n`;
  }
  // Events repeat the decisions' messages; only warnings the decisions do not show are worth a line.
  if (
    event.severity === 'Warning' &&
    !event.message.startsWith('Halt') &&
    !event.message.startsWith('Canary failed')
  )
    return `${time}  ${''.padEnd(16)} ${weightBar(status?.canaryWeight ?? 0)}  ⚠ ${event.message}\n`;
  return '';
}

function summaryMessage(outcome: DemoOutcome): string {
  return `V2 ${outcome.v2RolledBack ? 'rolled back' : 'NOT rolled back'}, V3 ${outcome.v3Promoted ? 'promoted' : 'NOT promoted'}, ${outcome.alerts.length} alert(s), ${outcome.totalSeconds.toFixed(1)}s`;
}

function summary(outcome: DemoOutcome, raised: Record<string, number>, router: string): string {
  const lines = ['', 'Summary', ''];
  for (const stage of outcome.stages) {
    lines.push(
      `  ${stage.version}  ${stage.description.padEnd(52)} → ${stage.outcome.padEnd(11)} in ${stage.seconds.toFixed(1)}s`,
    );
  }
  const served = Object.entries(outcome.served)
    .map(([backend, count]) => `${backend} ${count}`)
    .join(', ');
  lines.push(
    '',
    outcome.load === undefined
      ? `  Traffic: ${served} served through the router.`
      : `  Traffic: ${outcome.load.requests} requests sent by the built-in load generator (${served} through the router).`,
    router === 'nginx'
      ? '  Routed by nginx, measured by Prometheus.'
      : "  Routed and measured by Vireo's built-in router.",
    `  Alerts raised: ${Object.values(raised).reduce((sum, count) => sum + count, 0)} (${
      Object.entries(raised)
        .map(([severity, count]) => `${severity} ${count}`)
        .join(', ') || 'none'
    }); the on-call webhook, subscribed to severity error, received ${outcome.alerts.length}${outcome.alerts.length > 0 ? ` (last: ${alertText(outcome.alerts.at(-1)?.body)})` : ''}.`,
    '',
    outcome.v2RolledBack && outcome.v3Promoted
      ? `  ✓ V2 was rolled back automatically and V3 promoted, in ${outcome.totalSeconds.toFixed(1)}s.`
      : `  ✗ ${summaryMessage(outcome)}`,
    '',
    'Run it on your own services: vireo local apply -f FILE (docs/local/manifest.md).',
    '',
  );
  return lines.join('\n');
}

function alertText(body: unknown): string {
  if (typeof body === 'object' && body !== null && 'message' in body) {
    const { message, severity } = body as { message: unknown; severity?: unknown };
    return `${typeof severity === 'string' ? severity : ''} "${String(message)}"`;
  }
  return JSON.stringify(body);
}
