/**
 * Google Cloud Monitoring, formerly Stackdriver (docs/flagger-compatibility.md#42-metric-templates-and-providers): the template's query is MQL, sent as
 * `POST https://monitoring.googleapis.com/v3/projects/{project}/timeSeries:query` with the JSON body
 * `{"query": …}` and an OAuth2 access token for the `monitoring.read` scope.
 *
 * The Secret's `project` is required. Its optional `serviceAccountKey` is a JSON credentials file (a
 * service-account key, or any other type google-auth-library reads); without it, Application
 * Default Credentials apply, which on GKE means Workload Identity. Tokens come from
 * google-auth-library, which caches them until they expire.
 *
 * The value is the first value of the first point of the first time series (`doubleValue`, or
 * `int64Value`, which the JSON API sends as a string). Vireo additions: `spec.provider.address`
 * replaces `https://monitoring.googleapis.com` (Private Service Connect, proxies), and a key's
 * `token_uri` is honoured when it is not Google's usual endpoint (google-auth-library always posts
 * to `https://oauth2.googleapis.com/token`).
 */
import type { Dispatcher } from 'undici';
import { GoogleAuth, type AuthClient, type JWTInput } from 'google-auth-library';
import {
  MetricProviderConfigError,
  MetricQueryError,
  noValues,
  requiredSecretKey,
  secretLabel,
} from '../errors.js';
import { apiUrl, dispatcherFor, excerpt, httpJson, isHttpUrl } from '../http.js';
import type { MetricsBackend, ProviderDeps, ProviderSettings } from '../provider.js';

export const STACKDRIVER_TIMEOUT_MS = 15_000;
export const MONITORING_ADDRESS = 'https://monitoring.googleapis.com';
export const MONITORING_READ_SCOPE = 'https://www.googleapis.com/auth/monitoring.read';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

const PROVIDER = 'stackdriver';

interface GoogleErrorAnswer {
  error?: { code?: unknown; message?: unknown; status?: unknown };
}

export class StackdriverProvider implements MetricsBackend {
  readonly type = PROVIDER;
  private readonly project: string;
  private readonly address: string;
  private readonly auth: GoogleAuth;
  private readonly tokenUri: string | undefined;
  private readonly dispatcher: Dispatcher | undefined;
  private readonly timeoutMs: number;
  private readonly logger: ProviderDeps['logger'];
  private client: Promise<AuthClient> | undefined;

  constructor(settings: ProviderSettings, deps: ProviderDeps = {}) {
    const label = `${settings.source}: ${PROVIDER}`;
    this.project = requiredSecretKey(label, settings.secret, settings.secretName, 'project');
    const key = credentialsOf(settings);
    this.address = validAddress(settings);
    this.timeoutMs = deps.timeoutMs ?? STACKDRIVER_TIMEOUT_MS;
    this.tokenUri = key?.tokenUri;
    this.auth = new GoogleAuth({
      scopes: [MONITORING_READ_SCOPE],
      // Known already; without it ADC asks gcloud and the metadata server for one.
      projectId: this.project,
      ...(key === undefined ? {} : { credentials: key.credentials }),
      clientOptions: { transporterOptions: { timeout: this.timeoutMs } },
    });
    this.dispatcher = dispatcherFor(settings, deps);
    this.logger = deps.logger;
  }

  async queryValue(query: string): Promise<number> {
    const path = `/v3/projects/${encodeURIComponent(this.project)}/timeSeries:query`;
    const answer = await this.call('POST', path, { query });
    const series = isObject(answer) ? answer['timeSeriesData'] : undefined;
    if (Array.isArray(series) && series.length > 1) {
      this.logger?.warn(
        { series: series.length },
        `${PROVIDER}: the query returned ${series.length} time series; using the first one, as Flagger does: aggregate them (group_by with sum, max or mean) so the check reads the value you mean`,
      );
    }
    return valueOf(answer);
  }

  /** The cheapest authenticated read of the project: one metric descriptor. */
  async isOnline(): Promise<boolean> {
    const path = `/v3/projects/${encodeURIComponent(this.project)}/metricDescriptors`;
    await this.call('GET', path, undefined, { pageSize: '1' });
    return true;
  }

  private async call(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    parameters: Record<string, string> = {},
  ): Promise<unknown> {
    const token = await this.accessToken();
    const url = apiUrl(PROVIDER, this.address, path);
    for (const [name, value] of Object.entries(parameters)) url.searchParams.set(name, value);
    return httpJson({
      provider: PROVIDER,
      url,
      method,
      headers: {
        accept: 'application/json',
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      timeoutMs: this.timeoutMs,
      dispatcher: this.dispatcher,
      errorText: googleError,
    });
  }

  private async accessToken(): Promise<string> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new MetricQueryError(`${PROVIDER}: no access token within ${this.timeoutMs} ms`)),
        this.timeoutMs,
      );
    });
    try {
      const client = await Promise.race([this.authClient(), deadline]);
      const { token } = await Promise.race([client.getAccessToken(), deadline]);
      if (typeof token !== 'string' || token === '') {
        throw new MetricQueryError(`${PROVIDER}: the credentials gave no access token`);
      }
      return token;
    } catch (cause) {
      if (cause instanceof MetricQueryError) throw cause;
      this.client = undefined;
      throw tokenFailure(cause);
    } finally {
      clearTimeout(timer);
    }
  }

  /** The auth client, built once: it caches the token and refreshes it before it expires. */
  private authClient(): Promise<AuthClient> {
    this.client ??= this.auth.getClient().then((client) => {
      redirectTokenRequests(client, this.tokenUri);
      return client;
    });
    return this.client;
  }
}

/**
 * google-auth-library posts every service-account token request to Google's endpoint; a key whose
 * `token_uri` says otherwise (a private endpoint, a test server) gets its requests sent there.
 */
function redirectTokenRequests(client: AuthClient, tokenUri: string | undefined): void {
  if (tokenUri === undefined || tokenUri === GOOGLE_TOKEN_URL) return;
  client.transporter.interceptors.request.add({
    resolved: (options) => {
      if (String(options.url) === GOOGLE_TOKEN_URL) options.url = new URL(tokenUri);
      return Promise.resolve(options);
    },
  });
}

function validAddress(settings: ProviderSettings): string {
  const address =
    settings.address === undefined || settings.address === '' ? MONITORING_ADDRESS : settings.address;
  if (!isHttpUrl(address)) {
    throw new MetricProviderConfigError(
      `${settings.source}: ${PROVIDER} address ${JSON.stringify(address)} is not an http(s) URL: remove spec.provider.address to use ${MONITORING_ADDRESS}`,
    );
  }
  return address;
}

interface KeyCredentials {
  readonly credentials: JWTInput;
  /** A service-account key's token endpoint. */
  readonly tokenUri: string | undefined;
}

/** The Secret's `serviceAccountKey` as credentials, checked enough to fail here rather than per check. */
function credentialsOf(settings: ProviderSettings): KeyCredentials | undefined {
  const text = settings.secret?.['serviceAccountKey'];
  if (text === undefined || text.trim() === '') return undefined;
  const where = `${settings.source}: ${PROVIDER}: the "serviceAccountKey" of ${secretLabel(settings.secretName)}`;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // The text is a private key: never quote it, not even the parser's excerpt of it.
    throw new MetricProviderConfigError(
      `${where} is not JSON: paste the whole key file downloaded from Google Cloud`,
    );
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new MetricProviderConfigError(`${where} must be a JSON object (a key file)`);
  }
  const key = parsed as Record<string, unknown>;
  if (typeof key['type'] !== 'string') {
    throw new MetricProviderConfigError(`${where} has no "type": paste the whole key file`);
  }
  if (key['type'] !== 'service_account') return { credentials: key, tokenUri: undefined };
  for (const field of ['client_email', 'private_key']) {
    if (typeof key[field] !== 'string' || key[field] === '') {
      throw new MetricProviderConfigError(`${where} has no "${field}": paste the whole key file`);
    }
  }
  const tokenUri = key['token_uri'];
  if (tokenUri !== undefined && (typeof tokenUri !== 'string' || !/^https?:\/\//.test(tokenUri))) {
    throw new MetricProviderConfigError(`${where} has a "token_uri" that is not an http(s) URL`);
  }
  return { credentials: key, tokenUri };
}

function googleError(body: string): string | undefined {
  try {
    const { error } = JSON.parse(body) as GoogleErrorAnswer;
    if (typeof error?.message !== 'string') return undefined;
    return typeof error.status === 'string' ? `${error.status}: ${error.message}` : error.message;
  } catch {
    return undefined;
  }
}

/** Token failures name what to fix; gaxios errors carry the signed assertion, so no cause is kept. */
function tokenFailure(cause: unknown): MetricQueryError {
  const message = excerpt(cause instanceof Error ? cause.message : String(cause));
  if (/default credentials/i.test(message)) {
    return new MetricQueryError(
      `${PROVIDER}: no Google credentials: ${message}: enable Workload Identity for Vireo's ServiceAccount or add "serviceAccountKey" to the Secret`,
    );
  }
  return new MetricQueryError(`${PROVIDER}: getting an access token failed: ${message}`);
}

// ---- the answer ----------------------------------------------------------------------------------

interface QueryAnswer {
  timeSeriesData?: unknown;
  partialErrors?: unknown;
}

function valueOf(answer: unknown): number {
  const { timeSeriesData, partialErrors } = (isObject(answer) ? answer : {}) as QueryAnswer;
  const series = Array.isArray(timeSeriesData) ? (timeSeriesData as unknown[]) : [];
  const first = series[0];
  if (first === undefined) {
    const errors = statusMessages(partialErrors);
    if (errors !== '')
      throw new MetricQueryError(`${PROVIDER}: the query returned no data and errors: ${errors}`);
    throw noValues(PROVIDER, 'the query returned no time series');
  }
  const points =
    isObject(first) && Array.isArray(first['pointData']) ? (first['pointData'] as unknown[]) : [];
  const point = points[0];
  if (point === undefined) throw noValues(PROVIDER, 'the first time series has no points');
  const values = isObject(point) && Array.isArray(point['values']) ? (point['values'] as unknown[]) : [];
  const typed = values[0];
  if (!isObject(typed) || Object.keys(typed).length === 0) {
    throw noValues(PROVIDER, 'the first point has no value');
  }
  return typedValue(typed);
}

/** A TypedValue in proto3 JSON: doubles may come as "NaN"/"Infinity", int64 always as a string. */
function typedValue(typed: Record<string, unknown>): number {
  const double = typed['doubleValue'];
  if (double !== undefined) {
    if (typeof double === 'number') return double;
    if (double === 'NaN') throw noValues(PROVIDER, 'the first point is NaN');
    if (double === 'Infinity') return Number.POSITIVE_INFINITY;
    if (double === '-Infinity') return Number.NEGATIVE_INFINITY;
    throw new MetricQueryError(
      `${PROVIDER}: the first point's doubleValue ${excerpt(JSON.stringify(double))} is not a number`,
    );
  }
  const int64 = typed['int64Value'];
  if (int64 !== undefined) {
    if ((typeof int64 === 'string' && /^-?[0-9]+$/.test(int64)) || Number.isInteger(int64))
      return Number(int64);
    throw new MetricQueryError(
      `${PROVIDER}: the first point's int64Value ${excerpt(JSON.stringify(int64))} is not an integer`,
    );
  }
  const kind = Object.keys(typed)[0] ?? 'unknown';
  throw new MetricQueryError(
    `${PROVIDER}: the first point is a ${kind}, not a number: make the query return a double or int64 value`,
  );
}

function statusMessages(statuses: unknown): string {
  if (!Array.isArray(statuses)) return '';
  return excerpt(
    (statuses as unknown[])
      .map((status) => (isObject(status) && typeof status['message'] === 'string' ? status['message'] : ''))
      .filter((message) => message !== '')
      .join('; '),
  );
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
