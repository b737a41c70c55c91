/**
 * Are the metric providers of a canary reachable? Asked on every tick while the canary
 * initializes, as Flagger does (docs/flagger-compatibility.md#21-one-tick step 4), so a missing
 * Prometheus or a wrong template address shows up before the first analysis instead of as failed
 * checks later. The answer is only reported (an event); it never stops the initialization.
 *
 * What is asked: the metrics server of the built-in checks (`request-success-rate`,
 * `request-duration`), once, and the provider of every MetricTemplate the analysis references.
 * Deprecated inline queries and names no check kind claims are not asked about (Flagger does not
 * either); their first analysis step says what is wrong with them.
 */
import type { Canary } from '../api/schema/canary.js';
import { REQUEST_DURATION, REQUEST_SUCCESS_RATE, type CheckDependencies } from './checks.js';
import { keyOf } from './ports.js';
import { analysisOf } from './settings.js';

/** The Normal event of a canary whose providers all answer (Flagger's text: alert rules wait for it). */
export const PROVIDERS_AVAILABLE = 'all the metrics providers are available!';

/** The prefix of the Warning event when one does not (Flagger's text). */
export const PROVIDERS_CHECK_FAILED = 'Error checking metric providers';

const DEFAULT_INTERVAL = '1m';

/**
 * Undefined when every provider of `canary` answers; otherwise why the first one that does not
 * failed. Never throws: a port's error becomes the reason.
 */
export async function unavailableMetricProvider(
  canary: Canary,
  ports: CheckDependencies,
): Promise<string | undefined> {
  const namespace = keyOf(canary).namespace;
  let builtinAsked = false;
  for (const metric of analysisOf(canary.spec)?.metrics ?? []) {
    const reference = metric.templateRef;
    if (reference !== undefined) {
      const templateNamespace = reference.namespace ?? namespace;
      const label = `${reference.name}.${templateNamespace}`;
      let template;
      try {
        template = await ports.templates.get(templateNamespace, reference.name);
      } catch (cause) {
        return `metric template ${label} error: ${reasonOf(cause)}`;
      }
      if (template === undefined) return `metric template ${label} error: not found`;
      const type = template.spec.provider.type;
      let online: boolean;
      try {
        const provider = await ports.templates.providerFor(template, metric.interval ?? DEFAULT_INTERVAL);
        online = (await provider.isOnline?.()) ?? true;
      } catch (cause) {
        return `${type} in metric template ${label} not available: ${reasonOf(cause)}`;
      }
      if (!online) return `${type} in metric template ${label} not available: it did not answer as expected`;
      continue;
    }
    if ((metric.name === REQUEST_SUCCESS_RATE || metric.name === REQUEST_DURATION) && !builtinAsked) {
      builtinAsked = true;
      let online: boolean;
      try {
        online = (await ports.builtin.isOnline?.(canary)) ?? true;
      } catch (cause) {
        return `prometheus not available: ${reasonOf(cause)}`;
      }
      if (!online) return 'prometheus not available: vector(1) did not return 1';
    }
  }
  return undefined;
}

function reasonOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
