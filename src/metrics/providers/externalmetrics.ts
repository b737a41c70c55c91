/**
 * Kubernetes External Metrics API (Flagger's `externalmetrics` type): `GET
 * {server}/apis/external.metrics.k8s.io/v1beta1/namespaces/<ns>/<metric>?labelSelector=<selector>`
 * with the template query `[<ns>/]<metric>[?labelSelector=<selector>]` (namespace `default` when
 * left out; the selector may be URL-encoded or not, it is sent encoded). 5 s timeout.
 *
 * Where it goes and as whom: the controller's own Kubernetes access (`deps.kubeConfig`: server,
 * CA, client certificate, token) as Flagger uses its in-cluster config; `spec.provider.address`
 * replaces the server (an external metrics server such as Datadog's Cluster Agent, queried
 * directly, which authenticates the caller's ServiceAccount token), the Secret's `token`
 * replaces the bearer token, and `insecureSkipVerify` skips certificate checks.
 *
 * Answers: an `ExternalMetricValueList`; the first item's `value`, a Kubernetes quantity
 * ("250m", "1.5k", "3Ki", "12e-3"), is the result, as in Flagger. No items means no data.
 */
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { Agent, type Dispatcher } from 'undici';
import { MetricProviderConfigError, MetricQueryError, noValues } from '../errors.js';
import { apiUrl, excerpt, httpCall, httpJson } from '../http.js';
import type { MetricsBackend, ProviderDeps, ProviderSettings } from '../provider.js';

export const EXTERNAL_METRICS_TIMEOUT_MS = 5_000;

const API_PATH = '/apis/external.metrics.k8s.io/v1beta1';
const DEFAULT_NAMESPACE = 'default';
const QUERY_FORMAT = '<namespace>/<metric>?labelSelector=<label selector>';

export interface ExternalMetricQuery {
  readonly namespace: string;
  readonly metric: string;
  /** Decoded; empty when the query has none (every series of the metric). */
  readonly labelSelector: string;
}

/** How to reach the metrics server: resolved once per check from the kubeconfig and template. */
interface Connection {
  readonly server: string;
  readonly headers: Record<string, string | readonly string[]>;
  readonly dispatcher: Dispatcher | undefined;
}

export class ExternalMetricsProvider implements MetricsBackend {
  readonly type = 'externalmetrics';
  private readonly settings: ProviderSettings;
  private readonly deps: ProviderDeps;
  private readonly timeoutMs: number;
  private connection: Promise<Connection> | undefined;

  constructor(settings: ProviderSettings, deps: ProviderDeps = {}) {
    const address = settings.address ?? '';
    if (address === '' && (deps.kubeConfig?.getCurrentCluster() ?? null) === null) {
      throw new MetricProviderConfigError(
        `${settings.source}: externalmetrics needs Kubernetes access (Vireo has no kubeconfig here) or spec.provider.address pointing at an external metrics server`,
      );
    }
    this.settings = settings;
    this.deps = deps;
    this.timeoutMs = deps.timeoutMs ?? EXTERNAL_METRICS_TIMEOUT_MS;
  }

  async queryValue(query: string): Promise<number> {
    const parsed = parseExternalMetricQuery(query);
    const connection = await this.connect();
    const url = apiUrl(
      this.type,
      connection.server,
      `${API_PATH}/namespaces/${pathSegment(parsed.namespace)}/${pathSegment(parsed.metric)}`,
    );
    if (parsed.labelSelector !== '') url.searchParams.set('labelSelector', parsed.labelSelector);
    const answer = await httpJson({
      provider: this.type,
      url,
      headers: { accept: 'application/json', ...connection.headers },
      timeoutMs: this.timeoutMs,
      dispatcher: connection.dispatcher,
      errorText: kubernetesStatusMessage,
    });
    return firstValue(answer, parsed);
  }

  /** The API group's discovery document: cheap, and it needs the same authentication. */
  async isOnline(): Promise<boolean> {
    const connection = await this.connect();
    await httpCall({
      provider: this.type,
      url: apiUrl(this.type, connection.server, API_PATH),
      headers: { accept: 'application/json', ...connection.headers },
      timeoutMs: this.timeoutMs,
      dispatcher: connection.dispatcher,
      errorText: kubernetesStatusMessage,
    });
    return true;
  }

  private connect(): Promise<Connection> {
    this.connection ??= resolveConnection(this.settings, this.deps);
    return this.connection;
  }
}

/**
 * Reads `[<namespace>/]<metric>[?labelSelector=<selector>]`, Flagger's format. Anything else in
 * the query string is refused: a misspelt `labelselector` would silently select every series.
 */
export function parseExternalMetricQuery(query: string): ExternalMetricQuery {
  const text = query.trim();
  const questionMark = text.indexOf('?');
  const path = questionMark < 0 ? text : text.slice(0, questionMark);
  const search = questionMark < 0 ? '' : text.slice(questionMark + 1);
  const segments = path.replace(/^\//, '').split('/');
  if (segments.length > 2) {
    throw malformed(query, 'too many "/"');
  }
  const [first = '', second] = segments;
  const namespace = second === undefined || first === '' ? DEFAULT_NAMESPACE : first;
  const metric = second ?? first;
  if (metric === '') throw malformed(query, 'the metric name is empty');
  const parameters = new URLSearchParams(search);
  const unknown = [...parameters.keys()].filter((key) => key !== 'labelSelector');
  if (unknown.length > 0) {
    throw malformed(query, `unknown parameter ${unknown.map((key) => JSON.stringify(key)).join(', ')}`);
  }
  return { namespace, metric, labelSelector: parameters.get('labelSelector') ?? '' };
}

function malformed(query: string, why: string): MetricProviderConfigError {
  return new MetricProviderConfigError(
    `externalmetrics: cannot read the query ${JSON.stringify(query.trim())} (${why}): expected ${QUERY_FORMAT}, such as default/http_requests?labelSelector=app%3Dpodinfo`,
  );
}

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
};
const BINARY_SUFFIXES: Readonly<Record<string, number>> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const QUANTITY =
  /^([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:([eE][+-]?[0-9]+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

/**
 * A Kubernetes resource quantity as a number: decimal SI suffixes (n u m k M G T P E, where `m`
 * is milli and `M` mega), binary suffixes (Ki … Ei) and decimal exponents (`12e-3`, `1E6`).
 * Undefined when `text` is not a quantity.
 */
export function parseQuantity(text: string): number | undefined {
  const match = QUANTITY.exec(text.trim());
  if (match === null) return undefined;
  const [, mantissa = '', exponent, suffix] = match;
  if (exponent !== undefined) return Number(`${mantissa}${exponent}`);
  const scale = suffix === undefined ? 1 : (BINARY_SUFFIXES[suffix] ?? DECIMAL_SUFFIXES[suffix]);
  return scale === undefined ? undefined : Number(mantissa) * scale;
}

function firstValue(answer: unknown, query: ExternalMetricQuery): number {
  const items = (answer as { items?: unknown } | null)?.items;
  if (
    answer === null ||
    typeof answer !== 'object' ||
    (items !== undefined && items !== null && !Array.isArray(items))
  ) {
    throw new MetricQueryError(
      `externalmetrics: the answer is not an ExternalMetricValueList: ${shown(answer)}`,
    );
  }
  const [first] = (items ?? []) as unknown[];
  const selected = query.labelSelector === '' ? '' : ` with labels ${query.labelSelector}`;
  if (first === undefined) {
    throw noValues('externalmetrics', `no ${query.metric} values in namespace ${query.namespace}${selected}`);
  }
  const value = fieldOf(first, 'value');
  const number =
    typeof value === 'string' ? parseQuantity(value) : typeof value === 'number' ? value : undefined;
  if (number === undefined) {
    throw new MetricQueryError(
      `externalmetrics: ${query.metric} has a value that is not a Kubernetes quantity: ${shown(value)}`,
    );
  }
  if (Number.isNaN(number)) throw noValues('externalmetrics', `${query.metric} is NaN`);
  return number;
}

/**
 * A path segment as Go's client-go writes it: reserved characters escaped, but the ones a
 * segment may hold (`@`, `:`, `=`, …) kept, so Datadog's `datadogmetric@ns:name` stays readable.
 */
function pathSegment(text: string): string {
  return encodeURIComponent(text).replace(/%(24|26|2B|2C|3A|3B|3D|40)/gi, (escaped) =>
    decodeURIComponent(escaped),
  );
}

/** The `message` of a Kubernetes `Status` error body ("the server could not find …"). */
function kubernetesStatusMessage(body: string): string | undefined {
  try {
    const status = JSON.parse(body) as { kind?: unknown; message?: unknown };
    return typeof status.message === 'string' && status.message !== '' ? status.message : undefined;
  } catch {
    return undefined;
  }
}

async function resolveConnection(settings: ProviderSettings, deps: ProviderDeps): Promise<Connection> {
  const kubeConfig = deps.kubeConfig;
  const cluster = kubeConfig?.getCurrentCluster() ?? null;
  const address = settings.address ?? '';
  const server = address !== '' ? address : (cluster?.server ?? '');
  const tls = kubeConfig === undefined ? undefined : await kubeConfigTls(kubeConfig, settings.source);
  const headers: Record<string, string | readonly string[]> = { ...tls?.headers };
  const token = settings.secret?.['token'];
  if (token !== undefined && token !== '') headers['authorization'] = `Bearer ${token}`;
  Object.assign(headers, settings.headers);
  const skipVerify =
    settings.insecureSkipVerify === true || (address === '' && cluster?.skipTLSVerify === true);
  const dispatcher =
    deps.dispatcher ??
    new Agent({
      connect: {
        ...(tls?.ca === undefined ? {} : { ca: tls.ca }),
        ...(tls?.cert === undefined ? {} : { cert: tls.cert }),
        ...(tls?.key === undefined ? {} : { key: tls.key }),
        // The kubeconfig's server name belongs to the API server, not to an address override.
        ...(address === '' && cluster?.tlsServerName !== undefined
          ? { servername: cluster.tlsServerName }
          : {}),
        rejectUnauthorized: !skipVerify,
      },
    });
  return { server, headers, dispatcher };
}

interface KubeConfigTls {
  readonly headers: Record<string, string>;
  readonly ca?: RequestOptions['ca'];
  readonly cert?: RequestOptions['cert'];
  readonly key?: RequestOptions['key'];
}

/** The kubeconfig's credentials as headers and TLS material (tokens, exec plugins, certificates). */
async function kubeConfigTls(kubeConfig: KubeConfig, source: string): Promise<KubeConfigTls> {
  const options: RequestOptions = {};
  try {
    await kubeConfig.applyToHTTPSOptions(options);
  } catch (cause) {
    throw new MetricQueryError(
      `${source}: externalmetrics cannot use the Kubernetes credentials: ${cause instanceof Error ? cause.message : String(cause)}`,
      { cause },
    );
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.headers ?? {})) {
    if (typeof value === 'string') headers[name.toLowerCase()] = value;
  }
  if (typeof options.auth === 'string') {
    headers['authorization'] = `Basic ${Buffer.from(options.auth).toString('base64')}`;
  }
  return { headers, ca: options.ca, cert: options.cert, key: options.key };
}

/** A JSON value for a message, cut short; `undefined` has no JSON text of its own. */
function shown(value: unknown): string {
  return excerpt(JSON.stringify(value) ?? String(value));
}

/** `object[key]` of a parsed JSON value, or undefined when it is not an object. */
function fieldOf(object: unknown, key: string): unknown {
  return object !== null && typeof object === 'object' ? (object as Record<string, unknown>)[key] : undefined;
}
