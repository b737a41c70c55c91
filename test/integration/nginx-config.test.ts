/**
 * Every shape of config the nginx router can render must pass Debian's `nginx -t`: weights at
 * the edges, empty arms, mirrors, every kind of match, session cookies, hostile strings, many
 * routes at once, and randomly generated routes. The unit tests check what the config says;
 * these check that nginx agrees it is a config.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { AnalysisMatch } from '../../src/api/schema/canary.js';
import {
  renderNginxConfig,
  type NginxConfigOptions,
} from '../../src/platforms/local/routing/nginx/nginx-config.js';
import type { LocalRoute, SessionAffinityRule } from '../../src/platforms/local/routing/route.js';

const directory = mkdtempSync(join(tmpdir(), 'vireo-nginx-t-'));
mkdirSync(join(directory, 'logs'));
mkdirSync(join(directory, 'temp'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));

/** `nginx -t` on the rendered config: exit status and nginx's output. */
function nginxTest(
  routes: LocalRoute[],
  options: Partial<NginxConfigOptions> = {},
): { ok: boolean; output: string } {
  const file = join(directory, 'nginx.conf');
  writeFileSync(
    file,
    renderNginxConfig(routes, {
      prefix: directory,
      admin: { port: 19999, stubStatus: true },
      ...(process.getuid?.() === 0 ? { user: 'root' } : {}),
      ...options,
    }),
  );
  const result = spawnSync('nginx', ['-t', '-q', '-p', `${directory}/`, '-c', file, '-e', 'stderr'], {
    encoding: 'utf8',
  });
  if (result.error !== undefined)
    throw new Error(`cannot run nginx (${result.error.message}): apt-get install nginx`);
  return { ok: result.status === 0, output: `${result.stdout}${result.stderr}` };
}

let nextPort = 20000;
function newRoute(overrides: Partial<LocalRoute> = {}): LocalRoute {
  nextPort += 1;
  return {
    namespace: 'test',
    service: `svc${nextPort}`,
    listen: { host: '127.0.0.1', port: nextPort },
    primary: ['http://127.0.0.1:18081'],
    canary: ['http://127.0.0.1:18082'],
    canaryWeight: 30,
    mirror: false,
    match: [],
    ...overrides,
  };
}

const AFFINITY: SessionAffinityRule = {
  cookieName: 'flagger-cookie',
  canaryValue: 'abcdefghij',
  primaryCookieName: 'flagger-primary',
  primaryValue: 'zyxwvutsrq',
  previousValue: 'oldoldold',
  maxAgeSeconds: 86400,
  primaryMaxAgeSeconds: 60,
  domain: '.example.com',
  path: '/app',
  httpOnly: true,
  secure: true,
  sameSite: 'None',
};

const HOSTILE = [
  'a"; } server { listen 80; } #',
  "'; include /etc/passwd; '",
  '${request_id}$host',
  '\\"\\\\',
  '} { ; # \'"',
];

const SHAPES: [string, LocalRoute[], Partial<NginxConfigOptions>?][] = [
  ...[0, 0.01, 1, 30, 50.5, 99.99, 100].map((weight): [string, LocalRoute[]] => [
    `weight ${weight}`,
    [newRoute({ canaryWeight: weight })],
  ]),
  ['no canary replicas', [newRoute({ canary: [] })]],
  ['no primary replicas', [newRoute({ primary: [] })]],
  ['no replicas at all', [newRoute({ primary: [], canary: [] })]],
  [
    'no replicas, with everything else set',
    [
      newRoute({
        primary: [],
        canary: [],
        mirror: true,
        sessionAffinity: AFFINITY,
        match: [{ headers: { 'x-a': { exact: 'a' } } }],
      }),
    ],
  ],
  [
    'several replicas, IPv6 and host names',
    [
      newRoute({
        primary: ['http://127.0.0.1:1', 'http://[::1]:2', 'http://localhost:3'],
        canary: ['http://127.0.0.2:4'],
      }),
    ],
  ],
  [
    'listen on IPv6, any address and a host name',
    [
      newRoute({ listen: { host: '::1', port: 21001 } }),
      newRoute({ listen: { host: '0.0.0.0', port: 21002 } }),
      newRoute({ listen: { host: 'localhost', port: 21003 } }),
    ],
  ],
  ['mirror 100%', [newRoute({ canaryWeight: 0, mirror: true })]],
  ['mirror 25% with weight', [newRoute({ canaryWeight: 40, mirror: true, mirrorWeight: 25 })]],
  ['mirror with only a canary', [newRoute({ primary: [], mirror: true })]],
  [
    'header exact, prefix, suffix, regex',
    [
      newRoute({
        match: [
          {
            headers: {
              'x-a': { exact: 'a' },
              'x-b': { prefix: 'b' },
              'x-c': { suffix: 'c' },
              'x-d': { regex: '^d(e|f)+[0-9]{2,3}\\d$' },
            },
          },
        ],
      }),
    ],
  ],
  [
    'cookie regex (Flagger convention)',
    [newRoute({ match: [{ headers: { cookie: { regex: '^(.*?;)?(canary=always)(;.*)?$' } } }] })],
  ],
  [
    'query exact, prefix, regex, presence',
    [
      newRoute({
        match: [{ queryParams: { a: { exact: '1' }, b: { prefix: '2' }, c: { regex: '[0-9]+' }, d: {} } }],
      }),
    ],
  ],
  [
    'many entries',
    [
      newRoute({
        match: Array.from({ length: 12 }, (_, i): AnalysisMatch => ({
          headers: { [`x-h${i}`]: { exact: `v${i}` } },
        })),
      }),
    ],
  ],
  [
    'hostile exact/prefix/suffix strings',
    [
      newRoute({
        match: HOSTILE.map((value, i): AnalysisMatch => ({
          headers: {
            [`x-e${i}`]: { exact: value },
            [`x-p${i}`]: { prefix: value },
            [`x-s${i}`]: { suffix: value },
          },
        })),
      }),
    ],
  ],
  [
    'hostile regexes',
    [
      newRoute({
        match: HOSTILE.filter((v) => !v.includes('\\')).map((value, i): AnalysisMatch => ({
          headers: { [`x-r${i}`]: { regex: value } },
        })),
      }),
    ],
  ],
  ['session affinity, every attribute', [newRoute({ sessionAffinity: AFFINITY })]],
  [
    'session affinity, canary cookie only',
    [
      newRoute({
        sessionAffinity: { cookieName: 'c', canaryValue: 'v', maxAgeSeconds: 1, primaryMaxAgeSeconds: 1 },
      }),
    ],
  ],
  [
    'session affinity, previous cookie only, weight 0',
    [
      newRoute({
        canaryWeight: 0,
        sessionAffinity: { cookieName: 'c', previousValue: 'old', maxAgeSeconds: 1, primaryMaxAgeSeconds: 1 },
      }),
    ],
  ],
  [
    'session affinity with A/B, mirror and weight',
    [
      newRoute({
        sessionAffinity: AFFINITY,
        mirror: true,
        mirrorWeight: 10,
        match: [{ headers: { 'x-a': { exact: 'a' } }, queryParams: { q: {} } }],
      }),
    ],
  ],
  ['no routes', []],
  [
    '50 routes',
    Array.from({ length: 50 }, (_, i) =>
      newRoute({
        namespace: `ns-${i}`,
        service: 'podinfo',
        sessionAffinity: AFFINITY,
        mirror: i % 2 === 0,
        match: [{ headers: { 'x-canary': { exact: 'yes' } } }],
      }),
    ),
  ],
  [
    'names that collide after sanitising',
    [
      newRoute({ namespace: 'a-b', service: 'c' }),
      newRoute({ namespace: 'a', service: 'b-c' }),
      newRoute({ namespace: 'a.b', service: 'c' }),
    ],
  ],
  ['workers auto, access log off', [newRoute()], { workerProcesses: 'auto', accessLogFormat: 'off' }],
  ['no admin server', [newRoute()], { admin: undefined }],
];

describe('nginx -t accepts every shape the router renders', () => {
  it.each(SHAPES)('%s', (_, routes, options) => {
    const result = nginxTest(routes, options);
    expect(result.output).toBe('');
    expect(result.ok).toBe(true);
  });

  it('and rejects what it cannot resolve, with its own message', () => {
    // Regexes PCRE cannot compile are refused before (route-check.ts); a replica host name is
    // only looked up by nginx.
    const result = nginxTest([newRoute({ canary: ['http://no-such-replica.invalid:8080'] })]);
    expect(result.ok).toBe(false);
    expect(result.output).toMatch(/\[emerg\].*host not found in upstream/);
  });
});

describe('nginx -t accepts randomly generated routes', () => {
  // What route-check.ts lets through: printable ASCII, never empty.
  const text = fc.string({ minLength: 1, maxLength: 12 }).filter((s) => /^[\x20-\x7e]+$/.test(s));
  const stringMatch = fc.oneof(
    text.map((exact) => ({ exact })),
    text.map((prefix) => ({ prefix })),
    text.map((suffix) => ({ suffix })),
    fc.constantFrom('.+', 'a|b', '[0-9]+', '(x)?y', '\\d{2}').map((regex) => ({ regex })),
  );
  const headerName = fc.constantFrom('x-user', 'x-canary', 'cookie', 'user-agent', 'X-Mixed-Case');
  const entry = fc.record(
    {
      headers: fc.dictionary(headerName, stringMatch, { minKeys: 1, maxKeys: 3 }),
      queryParams: fc.dictionary(
        fc.constantFrom('a', 'beta', 'Q_1'),
        fc.oneof(
          fc.constant({}),
          text.map((exact) => ({ exact })),
        ),
      ),
    },
    { requiredKeys: ['headers'] },
  );
  const route = fc.record({
    canaryWeight: fc.oneof(fc.constantFrom(0, 100), fc.double({ min: 0, max: 100, noNaN: true })),
    mirror: fc.boolean(),
    mirrorWeight: fc.integer({ min: 0, max: 100 }),
    match: fc.array(entry, { maxLength: 3 }),
    primaryCount: fc.integer({ min: 0, max: 3 }),
    canaryCount: fc.integer({ min: 0, max: 3 }),
    affinity: fc.option(fc.record({ canary: fc.boolean(), primary: fc.boolean(), previous: fc.boolean() }), {
      nil: undefined,
    }),
  });

  it('(property, 30 configs of 1–3 routes)', () => {
    fc.assert(
      fc.property(fc.array(route, { minLength: 1, maxLength: 3 }), (shapes) => {
        const routes = shapes.map((shape) =>
          newRoute({
            canaryWeight: shape.canaryWeight,
            mirror: shape.mirror,
            mirrorWeight: shape.mirrorWeight,
            match: shape.match,
            primary: Array.from({ length: shape.primaryCount }, (_, i) => `http://127.0.0.1:${30000 + i}`),
            canary: Array.from({ length: shape.canaryCount }, (_, i) => `http://127.0.0.1:${31000 + i}`),
            sessionAffinity:
              shape.affinity === undefined
                ? undefined
                : {
                    ...AFFINITY,
                    canaryValue: shape.affinity.canary ? 'c1' : undefined,
                    primaryValue: shape.affinity.primary ? 'p1' : undefined,
                    previousValue: shape.affinity.previous ? 'o1' : undefined,
                  },
          }),
        );
        const result = nginxTest(routes);
        expect(result.output).toBe('');
        expect(result.ok).toBe(true);
      }),
      { numRuns: 30 },
    );
  });
});
