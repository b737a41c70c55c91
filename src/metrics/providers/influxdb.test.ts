import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { recordingServers, type Answer } from '../../../test/support/recording-server.js';
import { MetricProviderConfigError, MetricQueryError, NoValuesFoundError } from '../errors.js';
import type { ProviderSettings } from '../provider.js';
import { InfluxDBProvider } from './influxdb.js';

const server = recordingServers();

const SECRET = { token: 'influx-token-123', org: 'my-org' };

function settings(address: string, extra: Partial<ProviderSettings> = {}): ProviderSettings {
  return {
    source: 'MetricTemplate test/latency',
    address,
    secret: SECRET,
    secretName: 'influx-auth',
    interval: '1m',
    ...extra,
  };
}

/** An annotated CSV answer as InfluxDB 2.x writes it: annotation rows, a header row, records, CRLF. */
function csv(...tables: string[][]): Answer {
  return {
    status: 200,
    body: tables.map((lines) => `${lines.join('\r\n')}\r\n`).join('\r\n'),
    contentType: 'text/csv; charset=utf-8',
  };
}

/** One table whose `_value` column has the given type and cells. */
function table(dataType: string, tableIndex: number, ...values: string[]): string[] {
  return [
    `#datatype,string,long,dateTime:RFC3339,dateTime:RFC3339,dateTime:RFC3339,${dataType},string,string,string`,
    '#group,false,false,true,true,false,false,true,true,true',
    '#default,_result,,,,,,,,',
    ',result,table,_start,_stop,_time,_value,_field,_measurement,pod',
    ...values.map(
      (value, index) =>
        `,,${tableIndex},2024-05-01T11:50:00Z,2024-05-01T12:00:00Z,2024-05-01T11:5${index}:00Z,${value},duration_ms,http,podinfo-${tableIndex}`,
    ),
  ];
}

const influxError = (status: number, code: string, message: string): Answer => ({
  status,
  body: JSON.stringify({ code, message }),
  contentType: 'application/json; charset=utf-8',
});

const FLUX = `from(bucket: "k8s")
  |> range(start: -1m)
  |> filter(fn: (r) => r._measurement == "http" and r.pod =~ /podinfo-.*/)
  |> mean()`;

describe('InfluxDB provider', () => {
  it('posts the Flux query to /api/v2/query with the org, the token and the annotated-CSV dialect', async () => {
    const influx = await server(() => csv(table('double', 0, '12.5')));
    const value = await new InfluxDBProvider(settings(influx.url)).queryValue(FLUX);
    expect(value).toBe(12.5);
    const [request] = influx.requests;
    expect(request?.method).toBe('POST');
    const url = new URL(request?.path ?? '', influx.url);
    expect(url.pathname).toBe('/api/v2/query');
    expect(url.searchParams.get('org')).toBe('my-org');
    expect(request?.headers.authorization).toBe('Token influx-token-123');
    expect(request?.headers['content-type']).toMatch(/^application\/json/);
    expect(JSON.parse(request?.body ?? '')).toEqual({
      query: FLUX,
      type: 'flux',
      dialect: {
        header: true,
        delimiter: ',',
        quoteChar: '"',
        commentPrefix: '#',
        annotations: ['datatype', 'group', 'default'],
      },
    });
  });

  it('keeps a path prefix of the address and encodes the org', async () => {
    const influx = await server(() => csv(table('double', 0, '1')));
    const provider = new InfluxDBProvider(
      settings(`${influx.url}/influx/`, { secret: { token: 't', org: 'team a&b' } }),
    );
    await provider.queryValue(FLUX);
    expect(influx.requests[0]?.path).toBe('/influx/api/v2/query?org=team%20a%26b');
  });

  it('takes the first record of the first table when several come back', async () => {
    const influx = await server(() => csv(table('double', 0, '3.25', '4'), table('double', 1, '99')));
    expect(await new InfluxDBProvider(settings(influx.url)).queryValue(FLUX)).toBe(3.25);
  });

  it('accepts integer values (long and unsignedLong), which Flagger refuses', async () => {
    const long = await server(() => csv(table('long', 0, '-42')));
    expect(await new InfluxDBProvider(settings(long.url)).queryValue('count()')).toBe(-42);
    const unsigned = await server(() => csv(table('unsignedLong', 0, '7')));
    expect(await new InfluxDBProvider(settings(unsigned.url)).queryValue('count()')).toBe(7);
  });

  it('reads infinities as numbers', async () => {
    const influx = await server(() => csv(table('double', 0, '+Inf')));
    expect(await new InfluxDBProvider(settings(influx.url)).queryValue(FLUX)).toBe(Number.POSITIVE_INFINITY);
  });

  it('turns no records, a null _value and NaN into NoValuesFoundError', async () => {
    const empty = await server(() => ({ status: 200, body: '\r\n', contentType: 'text/csv; charset=utf-8' }));
    await expect(new InfluxDBProvider(settings(empty.url)).queryValue(FLUX)).rejects.toThrow(
      new NoValuesFoundError(
        'influxdb: no values found (the query returned no records): is the canary receiving traffic, and does the query select its series?',
      ),
    );
    const headerOnly = await server(() => csv(table('double', 0)));
    await expect(new InfluxDBProvider(settings(headerOnly.url)).queryValue(FLUX)).rejects.toBeInstanceOf(
      NoValuesFoundError,
    );
    const nullValue = await server(() => csv(table('double', 0, '')));
    await expect(new InfluxDBProvider(settings(nullValue.url)).queryValue(FLUX)).rejects.toThrow(
      /no values found \(the first record has a null _value\)/,
    );
    const nan = await server(() => csv(table('double', 0, 'NaN')));
    await expect(new InfluxDBProvider(settings(nan.url)).queryValue(FLUX)).rejects.toThrow(
      /no values found \(the first record has a NaN _value\)/,
    );
  });

  it('refuses a non-numeric _value, naming its type', async () => {
    const text = await server(() => csv(table('string', 0, 'fast')));
    const failure = new InfluxDBProvider(settings(text.url)).queryValue(FLUX);
    await expect(failure).rejects.toBeInstanceOf(MetricQueryError);
    await expect(failure).rejects.toThrow(
      `influxdb: the first record's _value is of type "string" ("fast"), not a number: select a numeric field or convert it with toFloat()`,
    );
    const flag = await server(() => csv(table('boolean', 0, 'true')));
    await expect(new InfluxDBProvider(settings(flag.url)).queryValue(FLUX)).rejects.toThrow(
      /of type "boolean"/,
    );
  });

  it('refuses a record without _value, listing its columns', async () => {
    const influx = await server(() =>
      csv([
        '#datatype,string,long,string',
        '#group,false,false,true',
        '#default,_result,,',
        ',result,table,pod',
        ',,0,a',
      ]),
    );
    await expect(new InfluxDBProvider(settings(influx.url)).queryValue(FLUX)).rejects.toThrow(
      'influxdb: the first record has no _value column (columns: result, table, pod): keep _value in the query',
    );
  });

  it("reports InfluxDB's error message for a query that does not compile", async () => {
    const influx = await server(() =>
      influxError(400, 'invalid', 'compilation failed: error at @1:1-1:4: undefined identifier fro'),
    );
    const failure = new InfluxDBProvider(settings(influx.url)).queryValue('fro(bucket: "k8s")');
    await expect(failure).rejects.toBeInstanceOf(MetricQueryError);
    await expect(failure).rejects.toThrow(
      `influxdb: ${influx.url}/api/v2/query answered HTTP 400: compilation failed: error at @1:1-1:4: undefined identifier fro`,
    );
    const error = (await failure.catch((caught: unknown) => caught)) as MetricQueryError;
    expect(error.status).toBe(400);
  });

  it('reports an error that InfluxDB streams inside a 200 answer', async () => {
    const influx = await server(() =>
      csv([
        '#datatype,string,string',
        '#group,true,true',
        '#default,,',
        ',error,reference',
        ',"runtime error @4:6-4:13: mean: unsupported input type for mean aggregate: string",',
      ]),
    );
    await expect(new InfluxDBProvider(settings(influx.url)).queryValue(FLUX)).rejects.toThrow(
      'influxdb: the query failed: runtime error @4:6-4:13: mean: unsupported input type for mean aggregate: string',
    );
  });

  it('never puts the token in an error message', async () => {
    const influx = await server(() => influxError(401, 'unauthorized', 'unauthorized access'));
    const error = (await new InfluxDBProvider(settings(influx.url))
      .queryValue(FLUX)
      .catch((caught: unknown) => caught)) as Error;
    expect(error).toBeInstanceOf(MetricQueryError);
    expect(error.message).toBe(`influxdb: ${influx.url}/api/v2/query answered HTTP 401: unauthorized access`);
    expect(error.message).not.toContain('influx-token-123');
  });

  it('reports a 5xx answer that is not JSON', async () => {
    const influx = await server(() => ({
      status: 502,
      body: '<html>Bad Gateway</html>',
      contentType: 'text/html',
    }));
    await expect(new InfluxDBProvider(settings(influx.url)).queryValue(FLUX)).rejects.toThrow(
      /answered HTTP 502: 502 Bad Gateway : <html>Bad Gateway<\/html>/,
    );
  });

  it('reports an unreachable address and a timeout', async () => {
    await expect(new InfluxDBProvider(settings('http://127.0.0.1:1')).queryValue(FLUX)).rejects.toThrow(
      /^influxdb: cannot reach http:\/\/127.0.0.1:1\/api\/v2\/query: .*ECONNREFUSED/,
    );
    const hanging = await server(() => ({ status: 200, hang: true }));
    // The message proves the 100 ms timeout ended the wait (a machine's speed cannot change it).
    await expect(
      new InfluxDBProvider(settings(hanging.url), { timeoutMs: 100 }).queryValue(FLUX),
    ).rejects.toThrow(`influxdb: cannot reach ${hanging.url}/api/v2/query: no answer within 100 ms`);
  });

  it('gives up on an answer that stops halfway', async () => {
    const stalling = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/csv; charset=utf-8' });
      response.write('#datatype,string,long,double\r\n');
    });
    await new Promise<void>((resolve) => stalling.listen(0, '127.0.0.1', resolve));
    server.onClose(async () => {
      stalling.closeAllConnections();
      await new Promise<void>((resolve) => stalling.close(() => resolve()));
    });
    const url = `http://127.0.0.1:${(stalling.address() as AddressInfo).port}`;
    await expect(new InfluxDBProvider(settings(url), { timeoutMs: 100 }).queryValue(FLUX)).rejects.toThrow(
      `influxdb: cannot reach ${url}/api/v2/query: no answer within 100 ms`,
    );
  });

  it('checks that the server is online with GET /ping', async () => {
    const influx = await server(() => ({ status: 204 }));
    expect(await new InfluxDBProvider(settings(influx.url)).isOnline()).toBe(true);
    expect(influx.requests[0]?.method).toBe('GET');
    expect(influx.requests[0]?.path).toBe('/ping');
    const down = await server(() => influxError(503, 'unavailable', 'service unavailable'));
    await expect(new InfluxDBProvider(settings(down.url)).isOnline()).rejects.toThrow(
      `influxdb: ${down.url}/ping answered HTTP 503: service unavailable`,
    );
  });

  it('needs an http(s) address, the token and the org', () => {
    expect(() => new InfluxDBProvider(settings(''))).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate test/latency: influxdb needs spec.provider.address, such as http://influxdb.monitoring:8086',
      ),
    );
    expect(() => new InfluxDBProvider(settings('influxdb:8086'))).toThrow(/is not an http\(s\) URL/);
    expect(() => new InfluxDBProvider(settings('http://influx:8086', { secret: undefined }))).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate test/latency: influxdb needs credentials: set spec.provider.secretRef to a Secret with the key "token"',
      ),
    );
    expect(() => new InfluxDBProvider(settings('http://influx:8086', { secret: { token: 't' } }))).toThrow(
      new MetricProviderConfigError(
        'MetricTemplate test/latency: influxdb: the Secret "influx-auth" has no "org" key: add it',
      ),
    );
    expect(() => new InfluxDBProvider(settings('http://influx:8086', { secret: { org: 'o' } }))).toThrow(
      /the Secret "influx-auth" has no "token" key/,
    );
  });
});
