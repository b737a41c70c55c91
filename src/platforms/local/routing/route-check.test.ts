import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRoute } from './builtin/routing.js';
import { renderNginxConfig } from './nginx/nginx-config.js';
import { checkRoute, InvalidRouteError } from './route-check.js';
import type { LocalRoute, SessionAffinityRule } from './route.js';

function newTestRoute(overrides: Partial<LocalRoute> = {}): LocalRoute {
  return {
    namespace: 'test',
    service: 'podinfo',
    listen: { host: '127.0.0.1', port: 18080 },
    primary: ['http://127.0.0.1:41001'],
    canary: ['http://127.0.0.1:41002'],
    canaryWeight: 10,
    mirror: false,
    match: [],
    ...overrides,
  };
}

const affinity = (change: Partial<SessionAffinityRule> = {}): SessionAffinityRule => ({
  cookieName: 'flagger-cookie',
  canaryValue: 'ABCdefGHIj',
  maxAgeSeconds: 86_400,
  primaryMaxAgeSeconds: 60,
  ...change,
});

function refusal(route: LocalRoute): InvalidRouteError {
  try {
    checkRoute(route);
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRouteError);
    return error as InvalidRouteError;
  }
  throw new Error('expected an InvalidRouteError');
}

/** The field the route is refused for by a router (undefined: served), with its list prefix removed. */
function verdict(serve: () => unknown): string | undefined {
  try {
    serve();
    return undefined;
  } catch (error) {
    if (!(error instanceof InvalidRouteError)) throw error;
    return error.field.replace(/^routes\[0\]/, 'route');
  }
}

describe('checkRoute: one set of rules, errors naming the field and what to do', () => {
  it.each([
    // Where the two routers used to disagree, the rule both can honour:
    [{ sessionAffinity: affinity({ cookieName: 'a$b' }) }, 'route.sessionAffinity.cookieName', 'without "$"'],
    [
      { sessionAffinity: affinity({ canaryValue: 'a$b' }) },
      'route.sessionAffinity.canaryValue',
      'letters and digits',
    ],
    [
      { sessionAffinity: affinity({ canaryValue: '' }) },
      'route.sessionAffinity.canaryValue',
      'not a cookie value',
    ],
    [
      { sessionAffinity: affinity({ primaryCookieName: 'flagger-cookie', primaryValue: 'x' }) },
      'route.sessionAffinity.primaryCookieName',
      'must differ from cookieName',
    ],
    [
      { sessionAffinity: affinity({ maxAgeSeconds: -5 }) },
      'route.sessionAffinity.maxAgeSeconds',
      'non-negative',
    ],
    [
      { sessionAffinity: affinity({ domain: 'evil.com; Secure' }) },
      'route.sessionAffinity.domain',
      'not a domain',
    ],
    [
      { sessionAffinity: affinity({ path: 'relative' }) },
      'route.sessionAffinity.path',
      'must start with "/"',
    ],
    [{ service: '' }, 'route.service', 'a Kubernetes name'],
    [{ namespace: 'Default' }, 'route.namespace', 'lowercase letters'],
    [{ listen: { host: '127.0.0.1; evil', port: 1 } }, 'route.listen.host', 'try 127.0.0.1'],
    [{ listen: { host: '127.0.0.1', port: 70_000 } }, 'route.listen.port', '0 (any free port) to 65535'],
    [{ canaryWeight: 101 }, 'route.canaryWeight', 'between 0 and 100, got 101'],
    [{ mirrorWeight: -1 }, 'route.mirrorWeight', 'between 0 and 100'],
    [{ primary: ['https://127.0.0.1:1'] }, 'route.primary[0]', 'only http://'],
    [{ canary: ['http://127.0.0.1:8080/api'] }, 'route.canary[0]', 'origin only'],
    [{ canary: ['http://u:p@127.0.0.1:8080'] }, 'route.canary[0]', 'only scheme, host and port'],
    [{ canary: ['not a url'] }, 'route.canary[0]', 'write http://127.0.0.1:<port>'],
    [{ match: [{}] }, 'route.match[0]', 'give it a condition'],
    [
      { match: [{ headers: { x_user: { exact: 'a' } } }] },
      'route.match[0].headers["x_user"]',
      'letters, digits and "-"',
    ],
    [
      { match: [{ headers: { ':authority': { exact: 'a' } } }] },
      'route.match[0].headers[":authority"]',
      'pseudo-headers',
    ],
    [{ match: [{ headers: { 'x-user': {} } }] }, 'route.match[0].headers["x-user"]', 'set one of exact'],
    [
      { match: [{ headers: { 'x-user': { exact: 'a', prefix: 'b' } } }] },
      'route.match[0].headers["x-user"]',
      'only one of',
    ],
    [
      { match: [{ headers: { 'x-user': { exact: '' } } }] },
      'route.match[0].headers["x-user"].exact',
      'omit the condition',
    ],
    [
      { match: [{ headers: { 'x-user': { prefix: 'é' } } }] },
      'route.match[0].headers["x-user"].prefix',
      'printable ASCII',
    ],
    [
      { match: [{ headers: { 'x-user': { regex: 'a\nb' } } }] },
      'route.match[0].headers["x-user"].regex',
      'control characters',
    ],
    [
      { match: [{ headers: { 'x-user': { regex: '.*' } } }] },
      'route.match[0].headers["x-user"].regex',
      '".+" instead of ".*"',
    ],
    [
      { match: [{ headers: { 'x-user': { regex: '(?=a)a' } } }] },
      'route.match[0].headers["x-user"].regex',
      'no lookaround',
    ],
    [
      { match: [{ headers: { 'x-user': { regex: 'a)|(b' } } }] },
      'route.match[0].headers["x-user"].regex',
      'not an RE2',
    ],
    [
      { match: [{ headers: { 'x-user': { regex: '[z-a]' } } }] },
      'route.match[0].headers["x-user"].regex',
      'not an RE2',
    ],
    [
      { match: [{ headers: { 'x-user': { regex: '\\x{263a}' } } }] },
      'route.match[0].headers["x-user"].regex',
      'beyond one byte',
    ],
    [
      { match: [{ queryParams: { 'a-b': { exact: '1' } } }] },
      'route.match[0].queryParams["a-b"]',
      'letters, digits and "_"',
    ],
    [
      { match: [{ queryParams: { a: { suffix: '1' } } }] },
      'route.match[0].queryParams["a"].suffix',
      'exact, prefix or regex',
    ],
  ] as [Partial<LocalRoute>, string, string][])('refuses %j at %s', (change, field, hint) => {
    const error = refusal(newTestRoute(change));
    expect(error.code).toBe('E_INVALID_ROUTE');
    expect(error.field).toBe(field);
    expect(error.message).toContain(`${field}: `);
    expect(error.message).toContain(hint);
  });

  it('takes what both routers serve: port 0, Flagger cookie regexes, presence of a query parameter', () => {
    const checked = checkRoute(
      newTestRoute({
        listen: { host: '127.0.0.1', port: 0 },
        mirror: true,
        mirrorWeight: 25,
        match: [
          { headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } },
          { headers: { 'X-Canary': { exact: 'insider' } }, queryParams: { debug: {} } },
          { sourceLabels: { app: 'frontend' } },
        ],
        sessionAffinity: affinity({ primaryCookieName: 'flagger-primary', primaryValue: 'KLMnopQRSt' }),
      }),
    );
    expect(checked.mirrorWeight).toBe(25);
    // The source-label entry can never match a local process and is left out.
    expect(checked.matches).toEqual([
      {
        headers: [{ name: 'cookie', kind: 'regex', value: '^(.*?;)?(canary=always)(;.*)?$' }],
        queryParams: [],
      },
      {
        headers: [{ name: 'x-canary', kind: 'exact', value: 'insider' }],
        queryParams: [{ name: 'debug', value: '' }],
      },
    ]);
    expect(checked.affinity?.canary?.setCookie).toBe('flagger-cookie=ABCdefGHIj; Max-Age=86400');
    expect(checked.affinity?.primary?.setCookie).toBe('flagger-primary=KLMnopQRSt; Max-Age=60');
  });

  it('counts no mirror weight when mirroring is off', () => {
    expect(checkRoute(newTestRoute({ mirror: false, mirrorWeight: 50 })).mirrorWeight).toBe(0);
  });
});

describe('the built-in proxy and nginx take and refuse the same routes', () => {
  // Fragments of routes, valid and not, including each case where the routers used to differ;
  // the valid fragment is the likelier, so that whole routes are often valid too.
  const mostly = <T>(valid: T, ...invalid: T[]): fc.Arbitrary<T> =>
    fc.oneof(
      { arbitrary: fc.constant(valid), weight: 6 },
      { arbitrary: fc.constantFrom(...invalid), weight: 1 },
    );
  const names = mostly('x-user', 'X-Canary', 'x_user', ':path', 'a b', 'x"y');
  const values = mostly('insider', '', 'é', 'a$b', '${request_id}', 'a"; }', 'a\tb');
  const regexes = mostly('user-[0-9]+', '.*', '(?i)admin', '(?=a)a', 'a)|(b', '[z-a]', '\\x{263a}', '.+');
  const stringMatch = fc.oneof(
    values.map((exact) => ({ exact })),
    values.map((prefix) => ({ prefix })),
    values.map((suffix) => ({ suffix })),
    regexes.map((regex) => ({ regex })),
    fc.constant({}),
    fc.constant({ exact: 'a', regex: 'b' }),
  );
  const entry = fc.record(
    {
      headers: fc.dictionary(names, stringMatch, { maxKeys: 2 }),
      queryParams: fc.dictionary(mostly('q', 'a-b'), stringMatch, { maxKeys: 1 }),
      sourceLabels: mostly({}, { app: 'frontend' }),
    },
    { requiredKeys: [] },
  );
  const cookieNames = mostly('flagger-cookie', 'a$b', 'a;b', 'name.with.dots');
  const cookieValues = mostly('ABCdefGHIj', 'a$b', '', 'a b');
  const session = fc.record({
    cookieName: cookieNames,
    canaryValue: fc.option(cookieValues, { nil: undefined }),
    primaryCookieName: fc.option(mostly('flagger-primary', 'flagger-cookie', 'a$b'), { nil: undefined }),
    primaryValue: fc.option(cookieValues, { nil: undefined }),
    previousValue: fc.option(cookieValues, { nil: undefined }),
    maxAgeSeconds: mostly(86_400, -1, 1.5),
    primaryMaxAgeSeconds: mostly(60, -60),
    path: mostly(undefined, '/', 'relative', '/a;b'),
    domain: mostly(undefined, 'example.test', 'evil.com; Secure'),
  });
  const route = fc.record({
    namespace: mostly('test', 'Test', ''),
    service: mostly('podinfo', 'a/b'),
    listen: fc.record({ host: mostly('127.0.0.1', '::1', 'localhost', 'a b'), port: fc.constant(18080) }),
    primary: fc.array(mostly('http://127.0.0.1:41001', 'https://127.0.0.1:1', 'http://[::1]:41003'), {
      maxLength: 2,
    }),
    canary: fc.array(mostly('http://127.0.0.1:41002', 'http://127.0.0.1:1/api'), { maxLength: 2 }),
    canaryWeight: mostly(12.5, 0, 100, 101),
    mirror: fc.boolean(),
    mirrorWeight: mostly(undefined, 50, -1),
    match: fc.array(entry, { maxLength: 2 }),
    sessionAffinity: fc.option(session, { nil: undefined }),
  });

  it('gives the same verdict, naming the same field (property)', () => {
    let served = 0;
    fc.assert(
      fc.property(route, (generated) => {
        const local = generated as LocalRoute;
        const builtin = verdict(() => compileRoute(local));
        const nginx = verdict(() => renderNginxConfig([local], { prefix: '/tmp/vireo-nginx' }));
        expect(nginx).toBe(builtin);
        if (builtin === undefined) served += 1;
      }),
      { numRuns: 1000 },
    );
    // Both verdicts occur: the property is not only about routes everyone refuses.
    expect(served).toBeGreaterThan(10);
  });
});
