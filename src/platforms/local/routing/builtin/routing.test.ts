import { describe, expect, it } from 'vitest';
import type { LocalRoute } from '../route.js';
import { InvalidRouteError } from '../route-check.js';
import { compileRoute, decide, parseCookies, type RequestFacts } from './routing.js';

function newTestRoute(overrides: Partial<LocalRoute> = {}): LocalRoute {
  return {
    namespace: 'test',
    service: 'podinfo',
    listen: { host: '127.0.0.1', port: 0 },
    primary: ['http://127.0.0.1:41001'],
    canary: ['http://127.0.0.1:41002'],
    canaryWeight: 0,
    mirror: false,
    match: [],
    ...overrides,
  };
}

const request = (headers: Record<string, string> = {}, url = '/'): RequestFacts => ({ headers, url });

/** A random source that fails the test if drawn. */
const noDraw = (): number => {
  throw new Error('random drawn');
};

describe('compileRoute', () => {
  // The rules themselves are route-check.test.ts's; here: the proxy refuses what they refuse.
  it.each([
    [{ canaryWeight: 101 }, 'route.canaryWeight: must be between 0 and 100, got 101'],
    [{ canary: ['not a url'] }, 'route.canary[0]: "not a url" is not a URL'],
    [
      { match: [{ headers: { 'x-user': { regex: '(?=admin).*' } } }] },
      'route.match[0].headers["x-user"].regex: not an RE2 regular expression',
    ],
    [
      { sessionAffinity: { cookieName: 'a$b', maxAgeSeconds: 1, primaryMaxAgeSeconds: 1 } },
      'route.sessionAffinity.cookieName: "a$b" is not a cookie name',
    ],
  ] as [Partial<LocalRoute>, string][])(
    'rejects %j with a message naming the field',
    (overrides, message) => {
      const attempt = () => compileRoute(newTestRoute(overrides));
      expect(attempt).toThrow(InvalidRouteError);
      expect(attempt).toThrow(message);
    },
  );
});

describe('decide: A/B matches', () => {
  const table = compileRoute(
    newTestRoute({
      match: [
        { headers: { 'X-Canary': { exact: 'insider' } } },
        { headers: { 'user-agent': { regex: '.*Firefox.*' }, 'x-region': { prefix: 'eu-' } } },
        { headers: { cookie: { regex: '.*canary=always.*' } } },
        { headers: { 'x-version': { suffix: '-beta' } } },
        { queryParams: { variant: { exact: 'b' }, debug: {} } },
        { sourceLabels: { app: 'frontend' } },
      ],
    }),
  );
  const arm = (facts: RequestFacts) => decide(table, facts, noDraw).arm;

  it('matches header names case-insensitively and values exactly', () => {
    expect(arm(request({ 'x-canary': 'insider' }))).toBe('canary');
    expect(arm(request({ 'x-canary': 'insiders' }))).toBe('primary');
    expect(arm(request({ 'x-version': '2.0-beta' }))).toBe('canary');
  });

  it('needs every condition of an entry; a regex must match the whole value', () => {
    expect(arm(request({ 'user-agent': 'Mozilla Firefox/120', 'x-region': 'eu-west' }))).toBe('canary');
    expect(arm(request({ 'user-agent': 'Mozilla Firefox/120', 'x-region': 'us-east' }))).toBe('primary');
    expect(arm(request({ 'user-agent': 'Firefox', 'x-region': 'eu-west' }))).toBe('canary');
    expect(arm(request({ 'user-agent': 'Chrome', 'x-region': 'eu-west' }))).toBe('primary');
  });

  it('matches cookies through the Cookie header regex', () => {
    expect(arm(request({ cookie: 'session=1; canary=always; theme=dark' }))).toBe('canary');
    expect(arm(request({ cookie: 'canary=never' }))).toBe('primary');
  });

  it('matches query parameters; an empty rule asks for presence', () => {
    expect(arm(request({}, '/page?variant=b&debug'))).toBe('canary');
    expect(arm(request({}, '/page?variant=b'))).toBe('primary');
    expect(arm(request({}, '/page?variant=a&debug=1'))).toBe('primary');
  });

  it('takes RE2 syntax: (?i) makes a regex case-insensitive', () => {
    const insensitive = compileRoute(
      newTestRoute({ match: [{ headers: { 'x-user': { regex: '(?i)admin' } } }] }),
    );
    expect(decide(insensitive, request({ 'x-user': 'ADMIN' }), noDraw).arm).toBe('canary');
    expect(decide(insensitive, request({ 'x-user': 'ADMINS' }), noDraw).arm).toBe('primary');
  });

  it('answers a catastrophic-backtracking regex at once (RE2 runs in linear time)', () => {
    // A backtracking engine takes about 2^n steps on n a's followed by a b: with n = 64 this
    // test would never finish. RE2 answers in time linear in the value's length.
    const table = compileRoute(
      newTestRoute({
        match: [{ headers: { 'x-user': { regex: '^(a+)+$' } }, queryParams: { q: { regex: '(x+x+)+y' } } }],
      }),
    );
    const evil = `${'a'.repeat(64)}b`;
    expect(decide(table, request({ 'x-user': evil }), noDraw).arm).toBe('primary');
    expect(decide(table, request({ 'x-user': 'a'.repeat(64) }, `/?q=${'x'.repeat(64)}`), noDraw).arm).toBe(
      'primary',
    );
    expect(decide(table, request({ 'x-user': 'a'.repeat(64) }, `/?q=${'x'.repeat(64)}y`), noDraw).arm).toBe(
      'canary',
    );
  });

  it('never matches on Istio source labels, which local processes do not have', () => {
    expect(arm(request())).toBe('primary');
  });
});

describe('decide: weights and mirroring', () => {
  it('draws only when the weight is strictly between 0 and 100', () => {
    expect(decide(compileRoute(newTestRoute({ canaryWeight: 0 })), request(), noDraw).arm).toBe('primary');
    expect(decide(compileRoute(newTestRoute({ canaryWeight: 100 })), request(), noDraw).arm).toBe('canary');
    const table = compileRoute(newTestRoute({ canaryWeight: 30 }));
    expect(decide(table, request(), () => 0.29).arm).toBe('canary');
    expect(decide(table, request(), () => 0.3).arm).toBe('primary');
  });

  it('mirrors primary answers by mirrorWeight, never canary ones, and only with a canary replica', () => {
    const all = compileRoute(newTestRoute({ mirror: true }));
    expect(decide(all, request(), noDraw)).toMatchObject({ arm: 'primary', mirror: true });
    const some = compileRoute(newTestRoute({ mirror: true, mirrorWeight: 25 }));
    expect(decide(some, request(), () => 0.2).mirror).toBe(true);
    expect(decide(some, request(), () => 0.25).mirror).toBe(false);
    const toCanary = compileRoute(newTestRoute({ mirror: true, canaryWeight: 100 }));
    expect(decide(toCanary, request(), noDraw).mirror).toBe(false);
    const noCanary = compileRoute(newTestRoute({ mirror: true, canary: [] }));
    expect(decide(noCanary, request(), noDraw).mirror).toBe(false);
  });

  it('turns replicas round-robin, each order listing every replica once', () => {
    const table = compileRoute(newTestRoute({ primary: ['http://127.0.0.1:1', 'http://127.0.0.1:2'] }));
    const ports = () => table.primary.order().map((url) => url.port);
    expect(ports()).toEqual(['1', '2']);
    expect(ports()).toEqual(['2', '1']);
    expect(ports()).toEqual(['1', '2']);
  });
});

describe('decide: session affinity', () => {
  const table = compileRoute(
    newTestRoute({
      canaryWeight: 50,
      match: [{ headers: { 'x-canary': { exact: '1' } } }],
      sessionAffinity: {
        cookieName: 'flagger-cookie',
        canaryValue: 'ABCdefGHIj',
        primaryCookieName: 'flagger-primary',
        primaryValue: 'KLMnopQRSt',
        previousValue: 'OLDoldOLDo',
        maxAgeSeconds: 86_400,
        primaryMaxAgeSeconds: 60,
        path: '/',
        domain: 'example.test',
        httpOnly: true,
        secure: true,
        sameSite: 'Strict',
      },
    }),
  );

  it('sets the canary cookie with every attribute when the weight picks the canary', () => {
    expect(decide(table, request(), () => 0.1)).toEqual({
      arm: 'canary',
      rule: 'weight',
      mirror: false,
      setCookies: [
        'flagger-cookie=ABCdefGHIj; Max-Age=86400; Domain=example.test; HttpOnly; Path=/; SameSite=Strict; Secure',
      ],
    });
  });

  it('sets the primary cookie with the primary Max-Age when the weight picks the primary', () => {
    expect(decide(table, request(), () => 0.9).setCookies).toEqual([
      'flagger-primary=KLMnopQRSt; Max-Age=60; Domain=example.test; HttpOnly; Path=/; SameSite=Strict; Secure',
    ]);
  });

  it('pins cookie holders without drawing or setting cookies again, canary cookie first', () => {
    expect(decide(table, request({ cookie: 'a=1; flagger-cookie=ABCdefGHIj' }), noDraw)).toMatchObject({
      arm: 'canary',
      rule: 'canary-cookie',
      setCookies: [],
    });
    expect(decide(table, request({ cookie: 'flagger-primary=KLMnopQRSt' }), noDraw)).toMatchObject({
      arm: 'primary',
      rule: 'primary-cookie',
    });
    expect(
      decide(table, request({ cookie: 'flagger-primary=KLMnopQRSt; flagger-cookie=ABCdefGHIj' }), noDraw).arm,
    ).toBe('canary');
  });

  it('expires the cookie of a previous run, with the attributes it was set with, and answers from the primary', () => {
    expect(decide(table, request({ cookie: 'flagger-cookie=OLDoldOLDo' }), noDraw)).toEqual({
      arm: 'primary',
      rule: 'previous-cookie',
      mirror: false,
      setCookies: [
        'flagger-cookie=OLDoldOLDo; Max-Age=-1; Domain=example.test; HttpOnly; Path=/; SameSite=Strict; Secure',
      ],
    });
  });

  it('ignores a cookie with the right name but another value, then applies A/B matches', () => {
    expect(
      decide(table, request({ cookie: 'flagger-cookie=SOMEthingE', 'x-canary': '1' }), noDraw),
    ).toMatchObject({
      arm: 'canary',
      rule: 'match',
    });
  });
});

describe('parseCookies', () => {
  it('splits pairs, trims, unquotes and skips pairs without a name', () => {
    expect(parseCookies(' a=1;b="two" ; =x; flag; c=d=e')).toEqual([
      ['a', '1'],
      ['b', 'two'],
      ['c', 'd=e'],
    ]);
    expect(parseCookies(undefined)).toEqual([]);
  });
});
