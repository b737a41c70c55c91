import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import {
  recordingServers,
  type RecordedRequest,
  type RecordingServer,
} from '../../../test/support/recording-server.js';
import { MetricProviderConfigError, MetricQueryError, NoValuesFoundError } from '../errors.js';
import type { ProviderDeps, ProviderSettings } from '../provider.js';
import { CloudWatchProvider, type CloudWatchOptions } from './cloudwatch.js';

// ---- a CloudWatch stand-in speaking the AWS JSON 1.0 protocol, as this SDK version sends it ------

type AwsRequest = RecordedRequest;

interface AwsAnswer {
  readonly status: number;
  readonly body?: unknown;
  /** Sent as is instead of `body` (a proxy's page). */
  readonly raw?: string;
  readonly headers?: Record<string, string>;
  readonly hang?: boolean;
}

const server = recordingServers();

/** A recording server that answers in the AWS JSON 1.0 protocol's shape. */
function cloudwatch(answer: (request: AwsRequest) => AwsAnswer): Promise<RecordingServer> {
  return server((request, index) => {
    const reply = answer(request);
    return {
      status: reply.status,
      body: reply.raw ?? (reply.body === undefined ? '' : JSON.stringify(reply.body)),
      contentType: 'application/x-amz-json-1.0',
      headers: { 'x-amzn-requestid': `req-${index + 1}`, ...reply.headers },
      ...(reply.hang === true ? { hang: true } : {}),
    };
  });
}

/** A GetMetricData answer: one MetricDataResult per list of values, newest first as CloudWatch sends them. */
function results(...valueLists: number[][]): AwsAnswer {
  return {
    status: 200,
    body: {
      MetricDataResults: valueLists.map((values, index) => ({
        Id: `e${index + 1}`,
        Label: 'Error Rate',
        Timestamps: values.map((_, point) => 1_714_564_800 - point * 60),
        Values: values,
        StatusCode: 'Complete',
      })),
      Messages: [],
    },
  };
}

/** An AWS JSON error, with the awsQueryCompatible header that carries the classic error code. */
function awsError(status: number, type: string, queryCode: string, message: string): AwsAnswer {
  return {
    status,
    body: { __type: `com.amazonaws.cloudwatch#${type}`, message },
    headers: { 'x-amzn-query-error': `${queryCode};Sender` },
  };
}

const CREDENTIALS = { accessKeyId: 'AKIDVIREOTEST', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRET' };

/** Recomputes the SigV4 signature of a request, as AWS does, and says what does not match. */
function checkSigV4(
  request: AwsRequest,
  secretAccessKey: string,
  region: string,
): { accessKeyId: string; scope: string } {
  const authorization = String(request.headers.authorization);
  const match =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(
      authorization,
    );
  expect(match, authorization).not.toBeNull();
  const [, accessKeyId = '', scope = '', signedHeaders = '', signature = ''] = match ?? [];
  const [date = '', scopeRegion, service, terminator] = scope.split('/');
  expect([scopeRegion, service, terminator]).toEqual([region, 'monitoring', 'aws4_request']);
  const amzDate = String(request.headers['x-amz-date']);
  expect(amzDate.startsWith(date)).toBe(true);
  const payloadHash = createHash('sha256').update(request.body).digest('hex');
  expect(request.headers['x-amz-content-sha256']).toBe(payloadHash);
  const canonicalHeaders = signedHeaders
    .split(';')
    .map((name) => `${name}:${String(request.headers[name]).trim().replace(/\s+/g, ' ')}\n`)
    .join('');
  const canonicalRequest = [request.method, '/', '', canonicalHeaders, signedHeaders, payloadHash].join('\n');
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  const hmac = (key: string | Buffer, data: string): Buffer =>
    createHmac('sha256', key).update(data).digest();
  const signingKey = ['monitoring', 'aws4_request'].reduce(
    (key, part) => hmac(key, part),
    hmac(hmac(`AWS4${secretAccessKey}`, date), region),
  );
  expect(createHmac('sha256', signingKey).update(stringToSign).digest('hex')).toBe(signature);
  return { accessKeyId, scope };
}

// ---- the provider -------------------------------------------------------------------------------

const NOW = new Date('2024-05-01T12:00:00Z');
const NOW_SECONDS = NOW.getTime() / 1000;

const QUERY = `[
  {"Id": "e1", "Expression": "m1 / m2", "Label": "Error Rate"},
  {"Id": "m1", "ReturnData": false, "MetricStat": {"Metric": {"Namespace": "MyKubernetesCluster", "MetricName": "ErrorCount",
    "Dimensions": [{"Name": "appName", "Value": "podinfo.test"}]}, "Period": 60, "Stat": "Sum", "Unit": "Count"}},
  {"Id": "m2", "ReturnData": false, "MetricStat": {"Metric": {"Namespace": "MyKubernetesCluster", "MetricName": "RequestCount",
    "Dimensions": [{"Name": "appName", "Value": "podinfo.test"}]}, "Period": 60, "Stat": "Sum", "Unit": "Count"}}
]`;

function settings(address: string | undefined, extra: Partial<ProviderSettings> = {}): ProviderSettings {
  return { source: 'MetricTemplate test/error-rate', address, region: 'eu-west-1', interval: '1m', ...extra };
}

function provider(
  address: string | undefined,
  extra: Partial<ProviderSettings> = {},
  deps: ProviderDeps = {},
  options: CloudWatchOptions = { credentials: CREDENTIALS },
): CloudWatchProvider {
  return new CloudWatchProvider(settings(address, extra), { now: () => NOW, ...deps }, options);
}

describe('CloudWatch provider', () => {
  it('sends one signed GetMetricData call (AWS JSON 1.0) over ten intervals and returns the first value', async () => {
    const aws = await cloudwatch(() => results([0.25, 0.5, 0.75]));
    expect(await provider(aws.url).queryValue(QUERY)).toBe(0.25);
    expect(aws.requests).toHaveLength(1);
    const [request] = aws.requests;
    if (request === undefined) throw new Error('no request');
    expect(request.method).toBe('POST');
    expect(request.path).toBe('/');
    expect(request.headers['content-type']).toBe('application/x-amz-json-1.0');
    expect(request.headers['x-amz-target']).toBe('GraniteServiceVersion20100801.GetMetricData');
    expect(checkSigV4(request, CREDENTIALS.secretAccessKey, 'eu-west-1').accessKeyId).toBe('AKIDVIREOTEST');
    expect(JSON.parse(request.body)).toEqual({
      MetricDataQueries: JSON.parse(QUERY),
      StartTime: NOW_SECONDS - 600,
      EndTime: NOW_SECONDS,
      MaxDatapoints: 20,
    });
  });

  it('sizes the window by the metric interval', async () => {
    const aws = await cloudwatch(() => results([1]));
    await provider(aws.url, { interval: '30s' }).queryValue(QUERY);
    const body = JSON.parse(aws.requests[0]?.body ?? '{}');
    expect([body.StartTime, body.EndTime]).toEqual([NOW_SECONDS - 300, NOW_SECONDS]);
  });

  it('matches query keys case-insensitively, as Flagger does, and logs the unknown ones', async () => {
    const aws = await cloudwatch(() => results([3]));
    const warn = vi.fn();
    const logger = { warn } as unknown as ProviderDeps['logger'];
    const query = JSON.stringify([
      {
        id: 'm1',
        metricStat: {
          metric: {
            namespace: 'AWS/ApplicationELB',
            metricName: 'HTTPCode_Target_5XX_Count',
            dimensions: [{ name: 'LoadBalancer', value: 'app/podinfo/1' }],
          },
          period: 60,
          stat: 'Sum',
        },
        returnData: true,
        colour: 'blue',
      },
    ]);
    expect(await provider(aws.url, {}, { logger }).queryValue(query)).toBe(3);
    expect(JSON.parse(aws.requests[0]?.body ?? '{}').MetricDataQueries).toEqual([
      {
        Id: 'm1',
        MetricStat: {
          Metric: {
            Namespace: 'AWS/ApplicationELB',
            MetricName: 'HTTPCode_Target_5XX_Count',
            Dimensions: [{ Name: 'LoadBalancer', Value: 'app/podinfo/1' }],
          },
          Period: 60,
          Stat: 'Sum',
        },
        ReturnData: true,
      },
    ]);
    expect(warn).toHaveBeenCalledWith(
      { provider: 'cloudwatch', key: 'colour', path: '[0]' },
      'cloudwatch: ignoring an unknown key of the query',
    );
  });

  it('takes the first value of the first result when several come back', async () => {
    const aws = await cloudwatch(() => results([7, 8], [9]));
    expect(await provider(aws.url).queryValue(QUERY)).toBe(7);
  });

  it('turns no results and no datapoints into NoValuesFoundError', async () => {
    const none = await cloudwatch(() => ({ status: 200, body: { MetricDataResults: [], Messages: [] } }));
    await expect(provider(none.url).queryValue(QUERY)).rejects.toThrow(
      new NoValuesFoundError(
        'cloudwatch: no values found (GetMetricData returned no datapoints): is the canary receiving traffic, and does the query select its series?',
      ),
    );
    const empty = await cloudwatch(() => results([]));
    await expect(provider(empty.url).queryValue(QUERY)).rejects.toBeInstanceOf(NoValuesFoundError);
  });

  it('refuses a query that is not a JSON array of MetricDataQuery, saying why, without calling AWS', async () => {
    const aws = await cloudwatch(() => results([1]));
    const cloudWatch = provider(aws.url);
    const prefix =
      'cloudwatch: the query must be a JSON array of MetricDataQuery objects ([{"Id": "m1", "MetricStat": {…}}, …]): ';
    const notJson = cloudWatch.queryValue('sum(rate(x[1m]))');
    await expect(notJson).rejects.toBeInstanceOf(MetricProviderConfigError);
    await expect(notJson).rejects.toThrow(`${prefix}it is not valid JSON (Unexpected token`);
    await expect(cloudWatch.queryValue('{"Id": "m1"}')).rejects.toThrow(
      `${prefix}it must be a non-empty JSON array, not an object`,
    );
    await expect(cloudWatch.queryValue('[]')).rejects.toThrow(
      `${prefix}it must be a non-empty JSON array, not an array`,
    );
    await expect(cloudWatch.queryValue('[{"Expression": "m1"}]')).rejects.toThrow(`${prefix}[0] has no "Id"`);
    await expect(
      cloudWatch.queryValue(
        '[{"Id": "m1", "MetricStat": {"Metric": {"MetricName": "x"}, "Period": "60", "Stat": "Sum"}}]',
      ),
    ).rejects.toThrow(`${prefix}[0].MetricStat.Period must be a number, not string "60"`);
    await expect(
      cloudWatch.queryValue('[{"Id": "m1", "MetricStat": {"Metric": {"Dimensions": {}}}}]'),
    ).rejects.toThrow(`${prefix}[0].MetricStat.Metric.Dimensions must be an array, not an object`);
    await expect(cloudWatch.queryValue('["m1"]')).rejects.toBeInstanceOf(MetricProviderConfigError);
    expect(aws.requests).toHaveLength(0);
  });

  it("reports AWS's error code and message (InvalidParameterValue, AccessDenied) without credentials", async () => {
    const invalid = await cloudwatch(() =>
      awsError(
        400,
        'InvalidParameterValueException',
        'InvalidParameterValue',
        'The value 7 for parameter Period is not a multiple of 60.',
      ),
    );
    const failure = provider(invalid.url).queryValue(QUERY);
    await expect(failure).rejects.toBeInstanceOf(MetricQueryError);
    await expect(failure).rejects.toThrow(
      'cloudwatch: GetMetricData failed (HTTP 400): InvalidParameterValue: The value 7 for parameter Period is not a multiple of 60.',
    );
    const denied = await cloudwatch(() => ({
      status: 400,
      body: {
        __type: 'com.amazon.coral.service#AccessDeniedException',
        Message:
          'User: arn:aws:sts::123456789012:assumed-role/vireo/i-0 is not authorized to perform: cloudwatch:GetMetricData',
      },
      headers: { 'x-amzn-query-error': 'AccessDenied;Sender' },
    }));
    const error = (await provider(denied.url)
      .queryValue(QUERY)
      .catch((caught: unknown) => caught)) as MetricQueryError;
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.status).toBe(400);
    expect(error.message).toBe(
      'cloudwatch: GetMetricData failed (HTTP 400): AccessDenied: User: arn:aws:sts::123456789012:assumed-role/vireo/i-0 is not authorized to perform: cloudwatch:GetMetricData',
    );
    expect(error.message).not.toContain(CREDENTIALS.secretAccessKey);
    expect(error.message).not.toContain('Signature');
    expect(denied.requests).toHaveLength(1);
  });

  it('makes 3 attempts on server errors, then reports the last one', async () => {
    const aws = await cloudwatch(() =>
      awsError(500, 'InternalServiceFault', 'InternalServiceError', 'Internal service error'),
    );
    await expect(provider(aws.url).queryValue(QUERY)).rejects.toThrow(
      'cloudwatch: GetMetricData failed (HTTP 500): InternalServiceError: Internal service error',
    );
    expect(aws.requests.map((request) => request.headers['amz-sdk-request'])).toEqual([
      'attempt=1; max=3',
      'attempt=2; max=3',
      'attempt=3; max=3',
    ]);
  });

  it('reports an answer that is not AWS JSON', async () => {
    const proxy = await cloudwatch(() => ({
      status: 502,
      raw: '<html>Bad Gateway</html>',
      headers: { 'content-type': 'text/html' },
    }));
    const error = (await provider(proxy.url)
      .queryValue(QUERY)
      .catch((caught: unknown) => caught)) as MetricQueryError;
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.message).toMatch(
      new RegExp(
        `^cloudwatch: ${proxy.url} answered HTTP 502 with something that is not AWS JSON \\(.*"<html>Bad .*\\): is it a CloudWatch endpoint\\?$`,
      ),
    );
  });

  it('reports an unreachable endpoint and a timeout', async () => {
    await expect(provider('http://127.0.0.1:1').queryValue(QUERY)).rejects.toThrow(
      /^cloudwatch: cannot reach http:\/\/127.0.0.1:1: .*ECONNREFUSED/,
    );
    const hanging = await cloudwatch(() => ({ status: 200, hang: true }));
    await expect(provider(hanging.url, {}, { timeoutMs: 100 }).queryValue(QUERY)).rejects.toThrow(
      `cloudwatch: cannot reach ${hanging.url}: no answer within 100 ms (3 attempts)`,
    );
    expect(hanging.requests).toHaveLength(3);
  });

  it("uses the SDK's default credential chain (here: the environment) when no credentials are given", async () => {
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'AKIDFROMENV');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'env-secret');
    vi.stubEnv('AWS_SESSION_TOKEN', 'env-session-token');
    try {
      const aws = await cloudwatch(() => results([1]));
      await provider(aws.url, { region: 'us-east-2' }, {}, {}).queryValue(QUERY);
      const [request] = aws.requests;
      if (request === undefined) throw new Error('no request');
      expect(checkSigV4(request, 'env-secret', 'us-east-2').accessKeyId).toBe('AKIDFROMENV');
      expect(request.headers['x-amz-security-token']).toBe('env-session-token');
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('says how to give Vireo credentials when the default chain finds none', async () => {
    for (const name of [
      'AWS_ACCESS_KEY_ID',
      'AWS_SECRET_ACCESS_KEY',
      'AWS_SESSION_TOKEN',
      'AWS_PROFILE',
      'AWS_WEB_IDENTITY_TOKEN_FILE',
      'AWS_ROLE_ARN',
      'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
      'AWS_CONTAINER_CREDENTIALS_FULL_URI',
    ]) {
      vi.stubEnv(name, undefined);
    }
    vi.stubEnv('AWS_EC2_METADATA_DISABLED', 'true');
    vi.stubEnv('AWS_CONFIG_FILE', '/nonexistent/vireo-test/config');
    vi.stubEnv('AWS_SHARED_CREDENTIALS_FILE', '/nonexistent/vireo-test/credentials');
    try {
      const aws = await cloudwatch(() => results([1]));
      const failure = provider(aws.url, {}, {}, {}).queryValue(QUERY);
      await expect(failure).rejects.toBeInstanceOf(MetricQueryError);
      await expect(failure).rejects.toThrow(
        /^cloudwatch: no AWS credentials: .*: give Vireo's ServiceAccount an IAM role \(IRSA or EKS Pod Identity\) or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY$/,
      );
      expect(aws.requests).toHaveLength(0);
    } finally {
      vi.unstubAllEnvs();
    }
  });

  it('checks that CloudWatch answers with a GetMetricData probe', async () => {
    const aws = await cloudwatch(() => ({
      status: 200,
      body: { MetricDataResults: [{ Id: 'vireo_online', Values: [], Timestamps: [] }] },
    }));
    expect(await provider(aws.url).isOnline()).toBe(true);
    expect(aws.requests[0]?.headers['x-amz-target']).toBe('GraniteServiceVersion20100801.GetMetricData');
    const denied = await cloudwatch(() =>
      awsError(403, 'AccessDeniedException', 'AccessDenied', 'not authorized'),
    );
    await expect(provider(denied.url).isOnline()).rejects.toThrow(
      'cloudwatch: GetMetricData failed (HTTP 403): AccessDenied: not authorized',
    );
  });

  it('needs a region, an http(s) address when one is set, and a valid interval', () => {
    expect(() => provider(undefined, { region: undefined })).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate test/error-rate: cloudwatch needs spec.provider.region, the AWS region of the metrics, such as us-east-1',
      ),
    );
    expect(() => provider('monitoring.eu-west-1.amazonaws.com')).toThrow(/is not an http\(s\) URL/);
    expect(() => provider(undefined, { interval: 'soon' })).toThrow(
      'MetricTemplate test/error-rate: cloudwatch: the metric interval "soon" is not a positive duration such as "1m"',
    );
    expect(provider(undefined).type).toBe('cloudwatch');
  });
});
