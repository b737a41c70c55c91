/**
 * Keptn (Flagger's `keptn` type): the value of a Keptn resource in the cluster, read with Vireo's
 * own Kubernetes access. The query names it, `/`-separated:
 *
 *   keptnmetric/<namespace>/<name>[/…]                       → KeptnMetric `status.value`
 *   analysis/<namespace>/<definition>[/<timeframe>[/<args>]] → 1 if the Analysis passed, else 0
 *
 * For `analysis` an `Analysis` is created in <namespace> referencing the AnalysisDefinition
 * <definition>, over `timeframe.recent` <timeframe> (default 1m) with `args` from
 * `key1=value1;key2=value2`; Keptn's metrics operator evaluates it and Vireo polls until
 * `status.state` is Completed (10 s by default, Flagger's bound), then deletes it, whatever
 * happened. Plural type names (`keptnmetrics`, `analyses`) are accepted as in Flagger; the
 * trailing parts of a `keptnmetric` query are ignored, as in Flagger's documented example.
 *
 * API version: `metrics.keptn.sh/v1` (Keptn 2), falling back to `v1beta1` (what Flagger uses;
 * Keptn 0.9–1.x) when the cluster does not serve v1. `isOnline` checks that one of them is served.
 */
import { ApiException, CustomObjectsApi } from '@kubernetes/client-node';
import { parseGoDuration } from '../../api/duration.js';
import type { Logger } from '../../shared/logger.js';
import { MetricProviderConfigError, MetricQueryError, noValues } from '../errors.js';
import { excerpt } from '../http.js';
import type { MetricsBackend, ProviderDeps, ProviderSettings } from '../provider.js';

/** How long an Analysis may take, and the bound of every other call. */
export const KEPTN_TIMEOUT_MS = 10_000;
export const KEPTN_POLL_INTERVAL_MS = 500;
export const KEPTN_GROUP = 'metrics.keptn.sh';
/** Newest first: the first one the cluster serves is used. */
export const KEPTN_VERSIONS = ['v1', 'v1beta1'] as const;
const DEFAULT_TIMEFRAME = '1m';
const QUERY_FORMAT =
  'keptnmetric/<namespace>/<name> or analysis/<namespace>/<analysis definition>/<timeframe>/<key1=value1;key2=value2>';

export type KeptnQuery =
  | { readonly kind: 'keptnmetric'; readonly namespace: string; readonly name: string }
  | {
      readonly kind: 'analysis';
      readonly namespace: string;
      readonly definition: string;
      readonly timeframe: string;
      readonly args: Readonly<Record<string, string>>;
    };

interface KeptnObject {
  metadata?: { name?: string };
  status?: Record<string, unknown>;
}

export class KeptnProvider implements MetricsBackend {
  readonly type = 'keptn';
  private readonly api: CustomObjectsApi;
  private readonly timeoutMs: number;
  private readonly pollIntervalMs: number;
  private readonly logger: Logger | undefined;
  private version: Promise<string> | undefined;

  constructor(settings: ProviderSettings, deps: ProviderDeps & { pollIntervalMs?: number } = {}) {
    if (deps.kubeConfig === undefined) {
      throw new MetricProviderConfigError(
        `${settings.source}: keptn reads Keptn resources in the cluster, but Vireo has no Kubernetes access here (no kubeconfig)`,
      );
    }
    this.api = deps.kubeConfig.makeApiClient(CustomObjectsApi);
    this.timeoutMs = deps.timeoutMs ?? KEPTN_TIMEOUT_MS;
    this.pollIntervalMs = deps.pollIntervalMs ?? KEPTN_POLL_INTERVAL_MS;
    this.logger = deps.logger;
  }

  async queryValue(query: string): Promise<number> {
    const parsed = parseKeptnQuery(query);
    const deadline = Date.now() + this.timeoutMs;
    const version = await this.servedVersion(deadline);
    return parsed.kind === 'keptnmetric'
      ? this.keptnMetricValue(parsed, version, deadline)
      : this.analysisResult(parsed, version, deadline);
  }

  async isOnline(): Promise<boolean> {
    await this.servedVersion(Date.now() + this.timeoutMs);
    return true;
  }

  private servedVersion(deadline: number): Promise<string> {
    this.version ??= this.findServedVersion(deadline);
    // A failed lookup is not remembered: Keptn may be installed by the next check.
    this.version.catch(() => (this.version = undefined));
    return this.version;
  }

  private async findServedVersion(deadline: number): Promise<string> {
    for (const version of KEPTN_VERSIONS) {
      try {
        await bounded(
          this.api.getAPIResources({ group: KEPTN_GROUP, version }),
          deadline,
          `${KEPTN_GROUP}/${version}`,
        );
        return version;
      } catch (error) {
        if (!(error instanceof ApiException && error.code === 404)) {
          throw kubernetesError(error, `reading the ${KEPTN_GROUP}/${version} API`);
        }
      }
    }
    throw new MetricQueryError(
      `keptn: the cluster serves neither ${KEPTN_VERSIONS.map((version) => `${KEPTN_GROUP}/${version}`).join(' nor ')}: is Keptn's metrics operator installed?`,
    );
  }

  private async keptnMetricValue(
    query: Extract<KeptnQuery, { kind: 'keptnmetric' }>,
    version: string,
    deadline: number,
  ): Promise<number> {
    const described = `KeptnMetric ${query.namespace}/${query.name}`;
    let metric: KeptnObject;
    try {
      metric = (await bounded(
        this.api.getNamespacedCustomObject({
          group: KEPTN_GROUP,
          version,
          namespace: query.namespace,
          plural: 'keptnmetrics',
          name: query.name,
        }),
        deadline,
        described,
      )) as KeptnObject;
    } catch (error) {
      throw kubernetesError(error, `reading ${described}`);
    }
    const value = metric.status?.['value'];
    const errMsg = metric.status?.['errMsg'];
    const keptnError = typeof errMsg === 'string' && errMsg !== '' ? `; Keptn says: ${excerpt(errMsg)}` : '';
    if (value === undefined || value === null || value === '') {
      throw noValues('keptn', `${described} has no status.value yet${keptnError}`);
    }
    const number =
      typeof value === 'number' ? value : typeof value === 'string' ? Number(value.trim()) : Number.NaN;
    if (Number.isNaN(number)) {
      if (value === 'NaN') throw noValues('keptn', `${described} is NaN${keptnError}`);
      throw new MetricQueryError(
        `keptn: ${described} has a status.value that is not a number: ${excerpt(typeof value === 'string' ? value : (JSON.stringify(value) ?? ''))}`,
      );
    }
    return number;
  }

  private async analysisResult(
    query: Extract<KeptnQuery, { kind: 'analysis' }>,
    version: string,
    deadline: number,
  ): Promise<number> {
    const target = { group: KEPTN_GROUP, version, namespace: query.namespace, plural: 'analyses' };
    let created: KeptnObject;
    try {
      created = (await bounded(
        this.api.createNamespacedCustomObject({ ...target, body: analysisObject(query, version) }),
        deadline,
        'creating an Analysis',
      )) as KeptnObject;
    } catch (error) {
      throw kubernetesError(error, `creating an Analysis of ${query.namespace}/${query.definition}`);
    }
    const name = created.metadata?.name;
    if (name === undefined)
      throw new MetricQueryError('keptn: the API server created an Analysis without a name');
    try {
      return await this.waitForCompletion({ ...target, name }, deadline);
    } finally {
      await this.deleteAnalysis({ ...target, name });
    }
  }

  private async waitForCompletion(
    target: { group: string; version: string; namespace: string; plural: string; name: string },
    deadline: number,
  ): Promise<number> {
    const described = `Analysis ${target.namespace}/${target.name}`;
    let state = 'not started';
    for (;;) {
      let analysis: KeptnObject;
      try {
        analysis = (await bounded(
          this.api.getNamespacedCustomObject(target),
          deadline,
          described,
        )) as KeptnObject;
      } catch (error) {
        if (error instanceof MetricQueryError && Date.now() >= deadline) break;
        throw kubernetesError(error, `reading ${described}`);
      }
      const status = analysis.status ?? {};
      state = typeof status['state'] === 'string' && status['state'] !== '' ? status['state'] : 'not started';
      if (state === 'Completed') return status['pass'] === true ? 1 : 0;
      if (Date.now() + this.pollIntervalMs >= deadline) break;
      await sleep(this.pollIntervalMs);
    }
    throw new MetricQueryError(
      `keptn: ${described} did not complete within ${this.timeoutMs} ms (state: ${state}): is Keptn's metrics operator running, and does the AnalysisDefinition exist in ${target.namespace}?`,
    );
  }

  /** Best effort: a leftover Analysis is harmless, a failed check because of one is not. */
  private async deleteAnalysis(target: {
    group: string;
    version: string;
    namespace: string;
    plural: string;
    name: string;
  }): Promise<void> {
    try {
      await bounded(
        this.api.deleteNamespacedCustomObject({ ...target, propagationPolicy: 'Background' }),
        Date.now() + this.timeoutMs,
        'deleting the Analysis',
      );
    } catch (error) {
      this.logger?.warn(
        { err: describeError(error), analysis: `${target.namespace}/${target.name}` },
        'could not delete the Keptn Analysis created for a metric check',
      );
    }
  }
}

/** Reads the query, or says which part is wrong and what the format is. */
export function parseKeptnQuery(query: string): KeptnQuery {
  const parts = query.trim().split('/');
  const [kind = '', namespace = '', name = '', timeframe = '', ...rest] = parts;
  if (namespace === '' || name === '') throw malformed(query, 'the namespace and the name are required');
  switch (kind.toLowerCase()) {
    case 'keptnmetric':
    case 'keptnmetrics':
      return { kind: 'keptnmetric', namespace, name };
    case 'analysis':
    case 'analyses': {
      const recent = timeframe === '' ? DEFAULT_TIMEFRAME : timeframe;
      const milliseconds = parseGoDuration(recent);
      if (milliseconds === undefined || milliseconds <= 0) {
        throw malformed(query, `the timeframe ${JSON.stringify(recent)} is not a duration such as 5m`);
      }
      // Argument values may hold "/" (a path); only the first four separators are structure.
      return {
        kind: 'analysis',
        namespace,
        definition: name,
        timeframe: recent,
        args: parseArgs(query, rest.join('/')),
      };
    }
    default:
      throw malformed(query, `the type ${JSON.stringify(kind)} is neither keptnmetric nor analysis`);
  }
}

function parseArgs(query: string, text: string): Record<string, string> {
  const args: Record<string, string> = {};
  for (const pair of text.split(';')) {
    if (pair.trim() === '') continue;
    const equals = pair.indexOf('=');
    const key = equals < 0 ? '' : pair.slice(0, equals).trim();
    if (key === '') throw malformed(query, `the argument ${JSON.stringify(pair)} is not key=value`);
    args[key] = pair.slice(equals + 1);
  }
  return args;
}

function malformed(query: string, why: string): MetricProviderConfigError {
  return new MetricProviderConfigError(
    `keptn: cannot read the query ${JSON.stringify(query.trim())} (${why}): expected ${QUERY_FORMAT}`,
  );
}

function analysisObject(query: Extract<KeptnQuery, { kind: 'analysis' }>, version: string): object {
  return {
    apiVersion: `${KEPTN_GROUP}/${version}`,
    kind: 'Analysis',
    metadata: {
      // Names must be DNS subdomains; the API server appends a random suffix.
      generateName: `${query.definition.slice(0, 200)}-`,
      namespace: query.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'vireo' },
    },
    spec: {
      analysisDefinition: { name: query.definition },
      timeframe: { recent: query.timeframe },
      args: query.args,
    },
  };
}

/** Fails the call at the deadline; the request itself is left to finish in the background. */
async function bounded<T>(call: Promise<T>, deadline: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const remaining = Math.max(0, deadline - Date.now());
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new MetricQueryError(`keptn: no answer from the Kubernetes API within the deadline (${what})`),
        ),
      remaining,
    );
  });
  try {
    return await Promise.race([call, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A Kubernetes API failure as a MetricQueryError: status, the API's own message, what to check. */
function kubernetesError(error: unknown, doing: string): MetricQueryError {
  if (error instanceof MetricQueryError) return error;
  if (error instanceof ApiException) {
    const code = (error as ApiException<unknown>).code;
    const message = statusMessage((error as ApiException<unknown>).body);
    const hint =
      code === 403
        ? ': grant Vireo get/create/delete on metrics.keptn.sh keptnmetrics and analyses'
        : code === 404
          ? ': check the namespace and the name in the query'
          : '';
    return new MetricQueryError(
      `keptn: ${doing} failed with HTTP ${code}${message === '' ? '' : `: ${message}`}${hint}`,
      { status: code, cause: error },
    );
  }
  return new MetricQueryError(`keptn: ${doing} failed: ${describeError(error)}`, { cause: error });
}

/** The `message` of a Kubernetes Status body, which client-node hands over as text. */
function statusMessage(body: unknown): string {
  if (typeof body !== 'string' || body === '') return '';
  try {
    const status = JSON.parse(body) as { message?: unknown };
    return typeof status.message === 'string' ? status.message : excerpt(body);
  } catch {
    return excerpt(body);
  }
}

function describeError(error: unknown): string {
  const { code, message } = error as { code?: unknown; message?: unknown };
  const text = typeof message === 'string' ? message : String(error);
  return typeof code === 'string' && !text.includes(code) ? `${code}: ${text}` : text;
}

const sleep = (milliseconds: number): Promise<void> =>
  new Promise((resolve) => setTimeout(resolve, milliseconds));
