import { describe, expect, it } from 'vitest';
import { parseAccessLog, parseAccessLogLine } from './nginx-access-log.js';

/** A line as nginx writes it with the router's log format. */
function line(fields: Record<string, string | number>): string {
  return JSON.stringify({
    time: '2026-01-01T00:00:00+00:00',
    route: 'test/podinfo',
    arm: 'primary',
    decision: 'primary-weight',
    status: 200,
    method: 'GET',
    uri: '/',
    request_time: 0.002,
    upstream_status: '200',
    upstream_response_time: '0.001',
    upstream_addr: '127.0.0.1:18081',
    bytes_sent: 7,
    request_id: 'abc',
    generation: 3,
    ...fields,
  });
}

describe('parseAccessLogLine', () => {
  it('reads every field', () => {
    expect(parseAccessLogLine(line({ arm: 'canary', decision: 'canary-match', status: 503 }))).toEqual({
      time: '2026-01-01T00:00:00+00:00',
      route: 'test/podinfo',
      arm: 'canary',
      decision: 'canary-match',
      status: 503,
      method: 'GET',
      uri: '/',
      requestTimeSeconds: 0.002,
      upstreamStatus: '200',
      upstreamResponseTimeSeconds: 0.001,
      upstreamAddress: '127.0.0.1:18081',
      bytesSent: 7,
      requestId: 'abc',
      generation: 3,
    });
  });

  it('adds the times of every upstream tried, and has none when no upstream answered', () => {
    expect(
      parseAccessLogLine(line({ upstream_response_time: '0.250, 0.125 : 0.125' }))
        ?.upstreamResponseTimeSeconds,
    ).toBe(0.5);
    expect(parseAccessLogLine(line({ upstream_response_time: '-, 0.5' }))?.upstreamResponseTimeSeconds).toBe(
      0.5,
    );
    expect(
      parseAccessLogLine(line({ upstream_response_time: '' }))?.upstreamResponseTimeSeconds,
    ).toBeUndefined();
  });

  it('ignores lines of other formats', () => {
    expect(parseAccessLogLine('127.0.0.1 - - [01/Jan/2026] "GET / HTTP/1.1" 200 7')).toBeUndefined();
    expect(parseAccessLogLine('{"route":"a/b","arm":"sideways","status":200}')).toBeUndefined();
    expect(parseAccessLogLine('{"route":"a/b","arm":"primary"}')).toBeUndefined();
    expect(parseAccessLogLine('null')).toBeUndefined();
    expect(parseAccessLogLine('{"route":"a/b","arm":"primary","status":2')).toBeUndefined();
  });
});

describe('parseAccessLog', () => {
  it('counts requests per route and arm by status, with upstream times', () => {
    const text = [
      line({}),
      line({ upstream_response_time: '0.003' }),
      line({ status: 502, upstream_status: '502' }),
      line({ arm: 'canary', decision: 'canary-weight', status: 500, upstream_response_time: '0.010' }),
      line({ route: 'test/other', arm: 'none', decision: 'none', status: 503, upstream_response_time: '' }),
      'garbage',
      '',
    ].join('\n');
    const summary = parseAccessLog(text);
    expect(summary.malformed).toBe(1);
    const podinfo = summary.routes['test/podinfo']!;
    expect(podinfo.primary).toEqual({
      requests: 3,
      byStatus: { 200: 2, 502: 1 },
      upstreamTimed: 3,
      upstreamSecondsSum: expect.closeTo(0.005, 9),
    });
    expect(podinfo.canary).toMatchObject({ requests: 1, byStatus: { 500: 1 } });
    expect(podinfo.none.requests).toBe(0);
    expect(summary.routes['test/other']!.none).toEqual({
      requests: 1,
      byStatus: { 503: 1 },
      upstreamTimed: 0,
      upstreamSecondsSum: 0,
    });
  });

  it('takes lines as an iterable too', () => {
    expect(parseAccessLog([line({}), line({ arm: 'canary' })]).routes['test/podinfo']!.canary.requests).toBe(
      1,
    );
  });
});
