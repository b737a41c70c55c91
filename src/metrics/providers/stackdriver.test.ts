import { generateKeyPairSync, verify } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { recordingServers, type RecordedRequest } from '../../../test/support/recording-server.js';
import { MetricProviderConfigError, MetricQueryError, NoValuesFoundError } from '../errors.js';
import type { ProviderSettings } from '../provider.js';
import { MONITORING_READ_SCOPE, StackdriverProvider } from './stackdriver.js';
import type { Logger } from '../../shared/logger.js';

// ---- a Google stand-in: the OAuth2 token endpoint, Cloud Monitoring and the metadata server -----

type GoogleRequest = RecordedRequest;

interface GoogleAnswer {
  readonly status: number;
  readonly body?: unknown;
  readonly headers?: Record<string, string>;
  readonly hang?: boolean;
}

interface GoogleServer {
  readonly url: string;
  readonly requests: GoogleRequest[];
  /** The requests to Cloud Monitoring (not the token endpoint nor the metadata server). */
  readonly monitoring: () => GoogleRequest[];
}

const server = recordingServers();
afterEach(() => {
  vi.unstubAllEnvs();
});

const TOKEN = 'ya29.vireo-test-access-token';
const { privateKey, publicKey } = generateKeyPairSync('rsa', {
  modulusLength: 2048,
  privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  publicKeyEncoding: { type: 'spki', format: 'pem' },
});
const CLIENT_EMAIL = 'vireo@my-project.iam.gserviceaccount.com';

/**
 * Answers token requests (checking the signed JWT assertion) and metadata-server token requests
 * itself, and everything else as `monitoring` says.
 */
async function google(monitoring: (request: GoogleRequest) => GoogleAnswer): Promise<GoogleServer> {
  const started = await server((request) => {
    const reply = route(request, monitoring);
    return {
      status: reply.status,
      body: reply.body === undefined ? '' : JSON.stringify(reply.body),
      contentType: 'application/json; charset=UTF-8',
      ...(reply.headers === undefined ? {} : { headers: reply.headers }),
      ...(reply.hang === true ? { hang: true } : {}),
    };
  });
  return {
    ...started,
    monitoring: () => started.requests.filter((request) => request.path.startsWith('/v3/')),
  };
}

function route(request: GoogleRequest, monitoring: (request: GoogleRequest) => GoogleAnswer): GoogleAnswer {
  if (request.path === '/token') return tokenExchange(request);
  if (request.path.startsWith('/computeMetadata/v1/')) return metadataServer(request);
  return monitoring(request);
}

/** Google's OAuth2 JWT-bearer grant: a form with an RS256 assertion signed by the key. */
function tokenExchange(request: GoogleRequest): GoogleAnswer {
  const form = new URLSearchParams(request.body);
  const refuse = (description: string): GoogleAnswer => ({
    status: 400,
    body: { error: 'invalid_grant', error_description: description },
  });
  if (request.method !== 'POST') return refuse('method');
  if (!String(request.headers['content-type']).startsWith('application/x-www-form-urlencoded')) {
    return refuse('content type');
  }
  if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return refuse('grant type');
  const [header = '', claims = '', signature = ''] = (form.get('assertion') ?? '').split('.');
  const decode = (part: string): Record<string, unknown> =>
    JSON.parse(Buffer.from(part, 'base64url').toString());
  if (decode(header)['alg'] !== 'RS256') return refuse('alg');
  if (
    !verify('RSA-SHA256', Buffer.from(`${header}.${claims}`), publicKey, Buffer.from(signature, 'base64url'))
  ) {
    return refuse('Invalid JWT Signature.');
  }
  const { iss, scope, aud, iat, exp } = decode(claims);
  if (
    iss !== CLIENT_EMAIL ||
    scope !== MONITORING_READ_SCOPE ||
    aud !== 'https://oauth2.googleapis.com/token'
  ) {
    return refuse(`claims ${JSON.stringify({ iss, scope, aud })}`);
  }
  if (typeof iat !== 'number' || exp !== iat + 3600) return refuse('lifetime');
  return { status: 200, body: { access_token: TOKEN, expires_in: 3599, token_type: 'Bearer' } };
}

/** The GKE metadata server as Workload Identity serves it. */
function metadataServer(request: GoogleRequest): GoogleAnswer {
  const flavor = { 'metadata-flavor': 'Google' };
  if (request.headers['metadata-flavor'] !== 'Google')
    return { status: 403, body: 'missing Metadata-Flavor' };
  const url = new URL(request.path, 'http://metadata');
  if (url.pathname === '/computeMetadata/v1/instance/service-accounts/default/token') {
    expect(url.searchParams.get('scopes')).toBe(MONITORING_READ_SCOPE);
    return {
      status: 200,
      headers: flavor,
      body: { access_token: `${TOKEN}-wi`, expires_in: 3599, token_type: 'Bearer' },
    };
  }
  return { status: 200, headers: flavor, body: {} };
}

function keyFile(tokenUri: string): string {
  return JSON.stringify({
    type: 'service_account',
    project_id: 'my-project',
    private_key_id: '0123456789abcdef',
    private_key: privateKey,
    client_email: CLIENT_EMAIL,
    client_id: '100000000000000000000',
    auth_uri: 'https://accounts.google.com/o/oauth2/auth',
    token_uri: tokenUri,
  });
}

// ---- answers of timeSeries:query, shaped as the REST reference documents them --------------------

type TypedValue = Record<string, unknown>;

/** One time series per list of points, each point a list of TypedValues, newest point first. */
function queryAnswer(...series: TypedValue[][][]): GoogleAnswer {
  return {
    status: 200,
    body: {
      timeSeriesDescriptor: {
        labelDescriptors: [{ key: 'resource.container_name' }],
        pointDescriptors: [
          { key: 'value.request_latencies', valueType: 'DOUBLE', metricKind: 'GAUGE', unit: 'ms' },
        ],
      },
      timeSeriesData: series.map((points, index) => ({
        labelValues: [{ stringValue: `podinfo-${index}` }],
        pointData: points.map((values, point) => ({
          values,
          timeInterval: {
            startTime: `2024-05-01T11:5${9 - point}:00Z`,
            endTime: `2024-05-01T11:5${9 - point}:00Z`,
          },
        })),
      })),
    },
  };
}

const googleError = (code: number, status: string, message: string): GoogleAnswer => ({
  status: code,
  body: { error: { code, message, status } },
});

const MQL = `fetch k8s_container
| metric 'istio.io/service/server/response_latencies'
| filter (metric.destination_service_name == 'podinfo-canary')
| align delta(1m)
| every 1m
| group_by [], [value_response_latencies_percentile: percentile(value.response_latencies, 99)]`;

function settings(server: GoogleServer | undefined, extra: Partial<ProviderSettings> = {}): ProviderSettings {
  return {
    source: 'MetricTemplate test/latency',
    address: server?.url,
    secret:
      server === undefined
        ? { project: 'my-project' }
        : { project: 'my-project', serviceAccountKey: keyFile(`${server.url}/token`) },
    secretName: 'gcp-monitoring',
    interval: '1m',
    ...extra,
  };
}

describe('Stackdriver (Cloud Monitoring) provider', () => {
  it('gets a token with a signed JWT, posts the MQL to timeSeries:query and returns the first value', async () => {
    const gcp = await google(() => queryAnswer([[{ doubleValue: 231.5 }], [{ doubleValue: 180 }]]));
    expect(await new StackdriverProvider(settings(gcp)).queryValue(MQL)).toBe(231.5);
    expect(gcp.requests.map((request) => `${request.method} ${request.path}`)).toEqual([
      'POST /token',
      'POST /v3/projects/my-project/timeSeries:query',
    ]);
    const [query] = gcp.monitoring();
    expect(query?.headers.authorization).toBe(`Bearer ${TOKEN}`);
    expect(query?.headers['content-type']).toBe('application/json');
    expect(JSON.parse(query?.body ?? '')).toEqual({ query: MQL });
  });

  it('reuses the access token until it expires', async () => {
    const gcp = await google(() => queryAnswer([[{ doubleValue: 1 }]]));
    const provider = new StackdriverProvider(settings(gcp));
    await provider.queryValue(MQL);
    await provider.queryValue(MQL);
    expect(gcp.requests.map((request) => request.path)).toEqual([
      '/token',
      '/v3/projects/my-project/timeSeries:query',
      '/v3/projects/my-project/timeSeries:query',
    ]);
  });

  it('uses Application Default Credentials (Workload Identity) without a serviceAccountKey', async () => {
    const gcp = await google(() => queryAnswer([[{ doubleValue: 2 }]]));
    vi.stubEnv('GCE_METADATA_HOST', new URL(gcp.url).host);
    vi.stubEnv('GOOGLE_APPLICATION_CREDENTIALS', undefined);
    vi.stubEnv('CLOUDSDK_CONFIG', mkdtempSync(join(tmpdir(), 'vireo-gcloud-')));
    vi.stubEnv('HOME', mkdtempSync(join(tmpdir(), 'vireo-home-')));
    const provider = new StackdriverProvider(settings(undefined, { address: gcp.url }));
    expect(await provider.queryValue(MQL)).toBe(2);
    expect(gcp.monitoring()[0]?.headers.authorization).toBe(`Bearer ${TOKEN}-wi`);
    expect(
      gcp.requests.some((request) =>
        request.path.startsWith('/computeMetadata/v1/instance/service-accounts/default/token'),
      ),
    ).toBe(true);
  });

  it('says how to give Vireo credentials when there are no default credentials', async () => {
    vi.stubEnv('METADATA_SERVER_DETECTION', 'none');
    vi.stubEnv('GOOGLE_APPLICATION_CREDENTIALS', undefined);
    vi.stubEnv('CLOUDSDK_CONFIG', mkdtempSync(join(tmpdir(), 'vireo-gcloud-')));
    vi.stubEnv('HOME', mkdtempSync(join(tmpdir(), 'vireo-home-')));
    const gcp = await google(() => queryAnswer([[{ doubleValue: 2 }]]));
    const failure = new StackdriverProvider(settings(undefined, { address: gcp.url })).queryValue(MQL);
    await expect(failure).rejects.toBeInstanceOf(MetricQueryError);
    await expect(failure).rejects.toThrow(
      /^stackdriver: no Google credentials: Could not load the default credentials.*: enable Workload Identity for Vireo's ServiceAccount or add "serviceAccountKey" to the Secret$/,
    );
    expect(gcp.requests).toHaveLength(0);
  });

  it('reads int64 values, which the JSON API sends as strings', async () => {
    const gcp = await google(() => queryAnswer([[{ int64Value: '42' }, { int64Value: '40' }]]));
    expect(await new StackdriverProvider(settings(gcp)).queryValue(MQL)).toBe(42);
  });

  it('warns that it picked the first of several time series', async () => {
    const gcp = await google(() => queryAnswer([[{ doubleValue: 7 }]], [[{ doubleValue: 9 }]]));
    const warnings: string[] = [];
    const notices = {
      warn: (_fields: object, message: string) => warnings.push(message),
    } as unknown as Logger;
    expect(await new StackdriverProvider(settings(gcp), { logger: notices }).queryValue(MQL)).toBe(7);
    expect(warnings).toEqual([
      expect.stringContaining('stackdriver: the query returned 2 time series; using the first one'),
    ]);
  });

  it('keeps a path prefix of the address and encodes the project', async () => {
    const gcp = await google(() => queryAnswer([[{ doubleValue: 1 }]]));
    const provider = new StackdriverProvider(
      settings(gcp, {
        address: `${gcp.url}/monitoring/`,
        secret: { project: 'example.com:analytics', serviceAccountKey: keyFile(`${gcp.url}/token`) },
      }),
    );
    await provider.queryValue(MQL);
    expect(gcp.requests[1]?.path).toBe('/monitoring/v3/projects/example.com%3Aanalytics/timeSeries:query');
  });

  it('turns no time series, no points, an empty value and NaN into NoValuesFoundError', async () => {
    const empty = await google(() => ({
      status: 200,
      body: { timeSeriesDescriptor: { pointDescriptors: [] } },
    }));
    await expect(new StackdriverProvider(settings(empty)).queryValue(MQL)).rejects.toThrow(
      new NoValuesFoundError(
        'stackdriver: no values found (the query returned no time series): is the canary receiving traffic, and does the query select its series?',
      ),
    );
    const noPoints = await google(() => queryAnswer([]));
    await expect(new StackdriverProvider(settings(noPoints)).queryValue(MQL)).rejects.toThrow(
      /no values found \(the first time series has no points\)/,
    );
    const noValue = await google(() => queryAnswer([[{}]]));
    await expect(new StackdriverProvider(settings(noValue)).queryValue(MQL)).rejects.toThrow(
      /no values found \(the first point has no value\)/,
    );
    const nan = await google(() => queryAnswer([[{ doubleValue: 'NaN' }]]));
    await expect(new StackdriverProvider(settings(nan)).queryValue(MQL)).rejects.toBeInstanceOf(
      NoValuesFoundError,
    );
  });

  it('refuses values that are not numbers, and reports partial errors that left no data', async () => {
    const text = await google(() => queryAnswer([[{ stringValue: 'high' }]]));
    await expect(new StackdriverProvider(settings(text)).queryValue(MQL)).rejects.toThrow(
      new MetricQueryError(
        'stackdriver: the first point is a stringValue, not a number: make the query return a double or int64 value',
      ),
    );
    const partial = await google(() => ({
      status: 200,
      body: { partialErrors: [{ code: 4, message: 'Query timed out while reading time series.' }] },
    }));
    await expect(new StackdriverProvider(settings(partial)).queryValue(MQL)).rejects.toThrow(
      'stackdriver: the query returned no data and errors: Query timed out while reading time series.',
    );
  });

  it("reports Google's error message and status, never the token", async () => {
    const gcp = await google(() =>
      googleError(400, 'INVALID_ARGUMENT', "Line 2: Table operation 'metric' expects a metric name."),
    );
    const error = (await new StackdriverProvider(settings(gcp))
      .queryValue(MQL)
      .catch((caught: unknown) => caught)) as MetricQueryError;
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.status).toBe(400);
    expect(error.message).toBe(
      `stackdriver: ${gcp.url}/v3/projects/my-project/timeSeries:query answered HTTP 400: INVALID_ARGUMENT: Line 2: Table operation 'metric' expects a metric name.`,
    );
    expect(error.message).not.toContain(TOKEN);
    const denied = await google(() =>
      googleError(
        403,
        'PERMISSION_DENIED',
        'Permission monitoring.timeSeries.list denied (or the resource may not exist).',
      ),
    );
    await expect(new StackdriverProvider(settings(denied)).queryValue(MQL)).rejects.toThrow(
      /answered HTTP 403: PERMISSION_DENIED: Permission monitoring.timeSeries.list denied/,
    );
  });

  it('reports a refused token request without the key or the assertion', async () => {
    const gcp = await google(() => queryAnswer([[{ doubleValue: 1 }]]));
    const { privateKey: otherKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const wrongKey = JSON.stringify({ ...JSON.parse(keyFile(`${gcp.url}/token`)), private_key: otherKey });
    const error = (await new StackdriverProvider(
      settings(gcp, { secret: { project: 'my-project', serviceAccountKey: wrongKey } }),
    )
      .queryValue(MQL)
      .catch((caught: unknown) => caught)) as MetricQueryError;
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.message).toBe(
      'stackdriver: getting an access token failed: invalid_grant: Invalid JWT Signature.',
    );
    expect(error.cause).toBeUndefined();
    expect(gcp.monitoring()).toHaveLength(0);
  });

  it('reports a non-JSON answer, an unreachable address and a timeout', async () => {
    const html = await google(() => ({ status: 502, body: '<html>Bad Gateway</html>' }));
    await expect(new StackdriverProvider(settings(html)).queryValue(MQL)).rejects.toThrow(
      /answered HTTP 502: "<html>Bad Gateway<\/html>"/,
    );
    const tokens = await google(() => queryAnswer([[{ doubleValue: 1 }]]));
    await expect(
      new StackdriverProvider(settings(tokens, { address: 'http://127.0.0.1:1' })).queryValue(MQL),
    ).rejects.toThrow(
      /^stackdriver: cannot reach http:\/\/127.0.0.1:1\/v3\/projects\/my-project\/timeSeries:query: .*ECONNREFUSED/,
    );
    const hanging = await google(() => ({ status: 200, hang: true }));
    await expect(
      new StackdriverProvider(settings(hanging), { timeoutMs: 100 }).queryValue(MQL),
    ).rejects.toThrow(/no answer within 100 ms/);
  });

  it('gives up on a token endpoint that does not answer', async () => {
    const gcp = await google(() => queryAnswer([[{ doubleValue: 1 }]]));
    const hangingTokens = await google(() => ({ status: 200, hang: true }));
    const key = keyFile(`${hangingTokens.url}/never`);
    const provider = new StackdriverProvider(
      settings(gcp, { secret: { project: 'p', serviceAccountKey: key } }),
      { timeoutMs: 100 },
    );
    await expect(provider.queryValue(MQL)).rejects.toThrow(
      new MetricQueryError('stackdriver: no access token within 100 ms'),
    );
    expect(gcp.monitoring()).toHaveLength(0);
  });

  it('checks that it can read the project with one metric descriptor', async () => {
    const gcp = await google(() => ({
      status: 200,
      body: { metricDescriptors: [{ type: 'agent.googleapis.com/agent/uptime' }] },
    }));
    expect(await new StackdriverProvider(settings(gcp)).isOnline()).toBe(true);
    const [request] = gcp.monitoring();
    expect(`${request?.method} ${request?.path}`).toBe(
      'GET /v3/projects/my-project/metricDescriptors?pageSize=1',
    );
    expect(request?.headers.authorization).toBe(`Bearer ${TOKEN}`);
  });

  it('needs the project, and a serviceAccountKey that is a key file, never quoting it', () => {
    expect(() => new StackdriverProvider(settings(undefined, { secret: undefined }))).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate test/latency: stackdriver needs credentials: set spec.provider.secretRef to a Secret with the key "project"',
      ),
    );
    expect(
      () =>
        new StackdriverProvider(
          settings(undefined, {
            secret: { serviceAccountKey: keyFile('https://oauth2.googleapis.com/token') },
          }),
        ),
    ).toThrow(
      'MetricTemplate test/latency: stackdriver: the Secret "gcp-monitoring" has no "project" key: add it',
    );
    const notJson = (): StackdriverProvider =>
      new StackdriverProvider(
        settings(undefined, {
          secret: { project: 'p', serviceAccountKey: '-----BEGIN PRIVATE KEY-----\nMIIsecret' },
        }),
      );
    expect(notJson).toThrow(
      'MetricTemplate test/latency: stackdriver: the "serviceAccountKey" of the Secret "gcp-monitoring" is not JSON: paste the whole key file downloaded from Google Cloud',
    );
    expect(notJson).not.toThrow(/MIIsecret/);
    const noEmail = JSON.stringify({ type: 'service_account', private_key: 'k' });
    expect(
      () =>
        new StackdriverProvider(
          settings(undefined, { secret: { project: 'p', serviceAccountKey: noEmail } }),
        ),
    ).toThrow(/has no "client_email"/);
    expect(
      () => new StackdriverProvider(settings(undefined, { address: 'monitoring.googleapis.com' })),
    ).toThrow(/is not an http\(s\) URL/);
  });
});
