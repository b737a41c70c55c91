import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InvalidRouteError } from '../route-check.js';
import type { LocalRoute } from '../route.js';
import { quote, regexLiteral, renderNginxConfig, type NginxConfigOptions } from './nginx-config.js';

/**
 * nginx's config grammar, enough to check structure: directives end at `;`, blocks are `{ }`,
 * `#` starts a comment, quoted strings unescape `\"`, `\'`, `\\`, `\t`, `\r`, `\n` (other
 * backslashes stay), as ngx_conf_read_token does. A string that broke out of its quotes would
 * show up here as extra directives or blocks.
 */
interface Directive {
  readonly name: string;
  readonly args: string[];
  readonly block?: Directive[];
}

function parseNginx(text: string): Directive[] {
  let i = 0;
  const readToken = (): { token: string; quoted: boolean } | { punct: string } | undefined => {
    for (;;) {
      while (i < text.length && /\s/.test(text[i]!)) i += 1;
      if (i >= text.length) return undefined;
      if (text[i] === '#') {
        while (i < text.length && text[i] !== '\n') i += 1;
        continue;
      }
      break;
    }
    const c = text[i]!;
    if (c === ';' || c === '{' || c === '}') {
      i += 1;
      return { punct: c };
    }
    if (c === '"' || c === "'") {
      i += 1;
      let token = '';
      for (;;) {
        if (i >= text.length) throw new Error('unterminated string');
        const d = text[i]!;
        if (d === '\\') {
          const e = text[i + 1]!;
          if (e === '"' || e === "'" || e === '\\') token += e;
          else if (e === 't') token += '\t';
          else if (e === 'r') token += '\r';
          else if (e === 'n') token += '\n';
          else token += `\\${e}`;
          i += 2;
          continue;
        }
        i += 1;
        if (d === c) break;
        token += d;
      }
      return { token, quoted: true };
    }
    let token = '';
    while (i < text.length && !/[\s;{}]/.test(text[i]!)) {
      token += text[i];
      i += 1;
    }
    return { token, quoted: false };
  };
  const parseBlock = (nested: boolean): Directive[] => {
    const directives: Directive[] = [];
    let words: string[] = [];
    for (;;) {
      const next = readToken();
      if (next === undefined) {
        if (nested || words.length > 0) throw new Error('unexpected end of config');
        return directives;
      }
      if ('punct' in next) {
        if (next.punct === ';') {
          if (words.length === 0) throw new Error('empty directive');
          directives.push({ name: words[0]!, args: words.slice(1) });
          words = [];
        } else if (next.punct === '{') {
          directives.push({ name: words[0]!, args: words.slice(1), block: parseBlock(true) });
          words = [];
        } else {
          if (!nested || words.length > 0) throw new Error('unexpected }');
          return directives;
        }
      } else words.push(next.token);
    }
  };
  return parseBlock(false);
}

function find(directives: readonly Directive[], name: string): Directive[] {
  return directives.filter((d) => d.name === name);
}

function http(config: string): Directive[] {
  return find(parseNginx(config), 'http')[0]!.block!;
}

/** The shape of a config: names and nesting, without arguments (a map's entries are data). */
function shape(directives: readonly Directive[], inMap = false): unknown[] {
  return directives.map((d) =>
    d.block === undefined
      ? inMap
        ? `entry/${d.args.length}`
        : d.name
      : [d.name, shape(d.block, d.name === 'map')],
  );
}

function newTestRoute(overrides: Partial<LocalRoute> = {}): LocalRoute {
  return {
    namespace: 'test',
    service: 'podinfo',
    listen: { host: '127.0.0.1', port: 18080 },
    primary: ['http://127.0.0.1:18081'],
    canary: ['http://127.0.0.1:18082'],
    canaryWeight: 30,
    mirror: false,
    match: [],
    ...overrides,
  };
}

const OPTIONS: NginxConfigOptions = { prefix: '/run/vireo/nginx' };

function render(routes: LocalRoute[], options: Partial<NginxConfigOptions> = {}): string {
  return renderNginxConfig(routes, { ...OPTIONS, ...options });
}

function rejection(fn: () => unknown): InvalidRouteError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidRouteError);
    return error as InvalidRouteError;
  }
  throw new Error('expected an InvalidRouteError');
}

/** The map that sets `variable`, as key → value. */
function mapRules(config: string, variable: string): Map<string, string> {
  const map = find(http(config), 'map').find((d) => d.args[1] === variable);
  if (map === undefined) throw new Error(`no map sets ${variable}`);
  return new Map(map.block!.map((d) => [d.name, d.args[0] ?? '']));
}

describe('renderNginxConfig: structure', () => {
  it('keeps everything nginx writes under the prefix and runs in the foreground of nobody', () => {
    const config = render([newTestRoute()]);
    const top = parseNginx(config);
    expect(find(top, 'pid')[0]!.args).toEqual(['/run/vireo/nginx/nginx.pid']);
    expect(find(top, 'error_log')[0]!.args[0]).toBe('/run/vireo/nginx/logs/error.log');
    expect(find(top, 'worker_processes')[0]!.args).toEqual(['1']);
    // The runner decides about daemon mode and the user.
    expect(find(top, 'daemon')).toEqual([]);
    expect(find(top, 'user')).toEqual([]);
    for (const name of [
      'client_body_temp_path',
      'proxy_temp_path',
      'fastcgi_temp_path',
      'uwsgi_temp_path',
      'scgi_temp_path',
    ])
      expect(find(http(config), name)[0]!.args[0]).toMatch(/^\/run\/vireo\/nginx\/temp\//);
    expect(config).not.toContain('/var/');
    expect(config).not.toContain('/etc/');
  });

  it('has one server per route on its address, upstreams with keep-alive, and the proxy headers', () => {
    const config = render([
      newTestRoute(),
      newTestRoute({ service: 'other', listen: { host: '::1', port: 18090 } }),
    ]);
    const servers = find(http(config), 'server');
    expect(servers.map((s) => find(s.block!, 'listen')[0]!.args)).toEqual([
      ['127.0.0.1:18080'],
      ['[::1]:18090'],
    ]);
    const upstreams = find(http(config), 'upstream');
    expect(upstreams.map((u) => u.args[0])).toEqual([
      'test_podinfo_primary',
      'test_podinfo_canary',
      'test_other_primary',
      'test_other_canary',
    ]);
    expect(find(upstreams[0]!.block!, 'server')[0]!.args).toEqual(['127.0.0.1:18081']);
    expect(find(upstreams[0]!.block!, 'keepalive')[0]!.args).toEqual(['32']);
    const location = find(servers[0]!.block!, 'location')[0]!.block!;
    expect(find(location, 'proxy_http_version')[0]!.args).toEqual(['1.1']);
    const headers = find(location, 'proxy_set_header').map((d) => d.args);
    expect(headers).toContainEqual(['Connection', '']);
    expect(headers).toContainEqual(['X-Forwarded-For', '$proxy_add_x_forwarded_for']);
    expect(find(location, 'proxy_pass')[0]!.args).toEqual(['http://$vireo_test_podinfo_upstream']);
    expect(find(location, 'add_header').map((d) => d.args)).toContainEqual([
      'x-vireo-backend',
      '$vireo_test_podinfo_arm',
      'always',
    ]);
  });

  it('splits by weight per request with split_clients on $request_id', () => {
    const split = find(http(render([newTestRoute({ canaryWeight: 30 })])), 'split_clients')[0]!;
    expect(split.args).toEqual(['${request_id}', '$vireo_test_podinfo_weighted']);
    expect(split.block!.map((d) => [d.name, ...d.args])).toEqual([
      ['30%', 'canary'],
      ['*', 'primary'],
    ]);
  });

  it('rounds weights to split_clients’ two decimals', () => {
    const split = find(http(render([newTestRoute({ canaryWeight: 12.345 })])), 'split_clients')[0]!;
    expect(split.block![0]!.name).toBe('12.35%');
  });

  it.each([
    [0, 'primary'],
    [100, 'canary'],
  ])('writes weight %i as a constant, without split_clients', (weight, arm) => {
    const config = render([newTestRoute({ canaryWeight: weight })]);
    expect(find(http(config), 'split_clients')).toEqual([]);
    expect(mapRules(config, '$vireo_test_podinfo_weighted').get('default')).toBe(arm);
  });

  it('orders the decision: canary cookie, primary cookie, A/B match, then weight', () => {
    const config = render([
      newTestRoute({
        match: [{ headers: { 'x-canary': { exact: 'insider' } } }],
        sessionAffinity: {
          cookieName: 'flagger-cookie',
          canaryValue: 'abc',
          primaryCookieName: 'primary-cookie',
          primaryValue: 'xyz',
          maxAgeSeconds: 86400,
          primaryMaxAgeSeconds: 60,
        },
      }),
    ]);
    const map = find(http(config), 'map').find((d) => d.args[1] === '$vireo_test_podinfo_decision')!;
    expect(map.args[0]).toBe(
      '${vireo_test_podinfo_sticky}:${vireo_test_podinfo_ab}:${vireo_test_podinfo_weighted}',
    );
    expect(map.block!.map((d) => d.args[0])).toEqual([
      'primary-weight',
      'canary-sticky',
      'primary-sticky',
      'canary-match',
      'canary-weight',
    ]);
    // Check the regexes against the sources they will see.
    const rules = map.block!.slice(1).map((d) => [new RegExp(d.name.slice(1)), d.args[0]!] as const);
    const decide = (source: string) => rules.find(([regex]) => regex.test(source))?.[1] ?? 'primary-weight';
    expect(decide('canary:1:primary')).toBe('canary-sticky');
    expect(decide('primary:1:canary')).toBe('primary-sticky');
    expect(decide(':1:primary')).toBe('canary-match');
    expect(decide(':0:canary')).toBe('canary-weight');
    expect(decide(':0:primary')).toBe('primary-weight');
  });

  it('ANDs the conditions of an entry and ORs the entries', () => {
    const config = render([
      newTestRoute({
        match: [
          { headers: { 'x-a': { exact: 'a' }, 'x-b': { prefix: 'b' } } },
          { queryParams: { beta: { exact: 'on' } } },
        ],
      }),
    ]);
    expect(mapRules(config, '$vireo_test_podinfo_m0_c0').get('~^a$')).toBe('1');
    expect(mapRules(config, '$vireo_test_podinfo_m0_c1').get('~^b')).toBe('1');
    const entry = find(http(config), 'map').find((d) => d.args[1] === '$vireo_test_podinfo_m0')!;
    expect(entry.args[0]).toBe('${vireo_test_podinfo_m0_c0}${vireo_test_podinfo_m0_c1}');
    expect(mapRules(config, '$vireo_test_podinfo_m0').get('11')).toBe('1');
    const sources = find(http(config), 'map').map((d) => d.args[0]);
    expect(sources).toContain('$http_x_a');
    expect(sources).toContain('$arg_beta');
    expect(mapRules(config, '$vireo_test_podinfo_ab').get('~1')).toBe('1');
  });

  it('anchors header matches as Istio does (exact, prefix, suffix, full-match regex)', () => {
    const config = render([
      newTestRoute({
        match: [
          {
            headers: {
              'x-exact': { exact: 'a.b' },
              'x-prefix': { prefix: 'a.b' },
              'x-suffix': { suffix: 'a.b' },
              'x-regex': { regex: 'user-[0-9]+' },
            },
          },
        ],
      }),
    ]);
    const key = (c: number) => [...mapRules(config, `$vireo_test_podinfo_m0_c${c}`).keys()][1];
    expect(key(0)).toBe('~^a\\.b$');
    expect(key(1)).toBe('~^a\\.b');
    expect(key(2)).toBe('~a\\.b$');
    expect(key(3)).toBe('~^(?:user-[0-9]+)$');
  });

  it('matches a query parameter’s presence when no value match is given', () => {
    const config = render([newTestRoute({ match: [{ queryParams: { beta: {} } }] })]);
    const map = find(http(config), 'map').find((d) => d.args[1] === '$vireo_test_podinfo_m0_c0')!;
    expect(map.args[0]).toBe('$args');
    const pattern = new RegExp(map.block![1]!.name.slice(1));
    expect(['beta', 'a=1&beta', 'beta=1', 'x=1&beta=&y'].every((args) => pattern.test(args))).toBe(true);
    expect(['betamax=1', 'xbeta=1', ''].some((args) => pattern.test(args))).toBe(false);
  });

  it('mirrors primary-answered requests to an internal location that proxies to the canary', () => {
    const config = render([newTestRoute({ canaryWeight: 0, mirror: true })]);
    const server = find(http(config), 'server')[0]!.block!;
    const [main, mirror] = find(server, 'location');
    expect(find(main!.block!, 'mirror')[0]!.args).toEqual(['/__vireo_mirror/test_podinfo']);
    expect(find(main!.block!, 'mirror_request_body')[0]!.args).toEqual(['on']);
    expect(mirror!.args).toEqual(['=', '/__vireo_mirror/test_podinfo']);
    expect(find(mirror!.block!, 'internal')).toHaveLength(1);
    expect(find(mirror!.block!, 'proxy_pass')[0]!.args).toEqual(['http://test_podinfo_canary$request_uri']);
    expect(mapRules(config, '$vireo_test_podinfo_mirror').get('primary')).toBe('1');
  });

  it('draws mirrorWeight on a key of its own', () => {
    const config = render([newTestRoute({ mirror: true, mirrorWeight: 25 })]);
    const draws = find(http(config), 'split_clients').map((d) => [d.args[0], d.block![0]!.name]);
    expect(draws).toEqual([
      ['${request_id}', '30%'],
      ['mirror${request_id}', '25%'],
    ]);
  });

  it('writes no mirror when it is off, its weight is 0, or the canary has no replicas', () => {
    for (const route of [
      newTestRoute({ mirror: false }),
      newTestRoute({ mirror: true, mirrorWeight: 0 }),
      newTestRoute({ mirror: true, canary: [] }),
    ])
      expect(render([route])).not.toContain('mirror ');
  });

  it('sends everything to the only arm with replicas, without an upstream for the empty one', () => {
    for (const [empty, arm] of [
      ['canary', 'primary'],
      ['primary', 'canary'],
    ] as const) {
      const config = render([
        newTestRoute({ [empty]: [], match: [{ headers: { 'x-canary': { exact: 'yes' } } }] }),
      ]);
      expect(find(http(config), 'upstream').map((u) => u.args[0])).toEqual([`test_podinfo_${arm}`]);
      expect(mapRules(config, '$vireo_test_podinfo_arm').get('default')).toBe(arm);
      expect(find(http(config), 'split_clients')).toEqual([]);
    }
  });

  it('answers 503 with a short body when neither arm has replicas', () => {
    const config = render([newTestRoute({ primary: [], canary: [] })]);
    expect(find(http(config), 'upstream')).toEqual([]);
    const location = find(find(http(config), 'server')[0]!.block!, 'location')[0]!.block!;
    expect(find(location, 'return')[0]!.args).toEqual(['503', 'no replicas of test/podinfo are running\n']);
  });

  it('writes session cookies as Flagger does, and expires the previous one', () => {
    const config = render([
      newTestRoute({
        sessionAffinity: {
          cookieName: 'flagger-cookie',
          canaryValue: 'abcdefghij',
          primaryCookieName: 'primary-cookie',
          primaryValue: 'zyxwvutsrq',
          previousValue: 'oldoldold',
          maxAgeSeconds: 86400,
          primaryMaxAgeSeconds: 60,
          domain: 'example.com',
          httpOnly: true,
          path: '/',
          sameSite: 'Strict',
          secure: true,
        },
      }),
    ]);
    const setCookie = mapRules(config, '$vireo_test_podinfo_set_cookie');
    expect(setCookie.get('canary-weight')).toBe(
      'flagger-cookie=abcdefghij; Max-Age=86400; Domain=example.com; HttpOnly; Path=/; SameSite=Strict; Secure',
    );
    expect(setCookie.get('primary-weight')).toBe(
      'primary-cookie=zyxwvutsrq; Max-Age=60; Domain=example.com; HttpOnly; Path=/; SameSite=Strict; Secure',
    );
    const expire = [...mapRules(config, '$vireo_test_podinfo_expire_cookie').entries()][1]!;
    expect(new RegExp(expire[0].slice(1)).test('a=1; flagger-cookie=oldoldold; b=2')).toBe(true);
    expect(new RegExp(expire[0].slice(1)).test('flagger-cookie=oldoldold2')).toBe(false);
    expect(expire[1]).toMatch(/^flagger-cookie=oldoldold; Max-Age=-1;/);
    const sticky = [...mapRules(config, '$vireo_test_podinfo_sticky').entries()].slice(1);
    expect(sticky.map(([, arm]) => arm)).toEqual(['canary', 'primary']);
    expect(new RegExp(sticky[0]![0].slice(1)).test('x=1;flagger-cookie=abcdefghij')).toBe(true);
    expect(new RegExp(sticky[0]![0].slice(1)).test('my-flagger-cookie=abcdefghij')).toBe(false);
  });

  it('writes the access log as JSON lines whose template parses once nginx fills it in', () => {
    const config = render([newTestRoute()]);
    const format = find(http(config), 'log_format')[0]!;
    expect(format.args.slice(0, 2)).toEqual(['vireo_test_podinfo', 'escape=json']);
    const filled = format.args[2]!.replace(/\$(status|request_time|body_bytes_sent)\b/g, '1').replace(
      /\$[a-z_]+/g,
      'x',
    );
    expect(JSON.parse(filled)).toMatchObject({ route: 'test/podinfo', status: 1, generation: 1 });
    const server = find(http(config), 'server')[0]!.block!;
    expect(find(server, 'access_log')[0]!.args).toEqual([
      '/run/vireo/nginx/logs/access.log',
      'vireo_test_podinfo',
    ]);
    expect(render([newTestRoute()], { accessLogFormat: 'off' })).not.toContain('log_format');
  });

  it('adds the admin server on loopback, with stub_status only when asked', () => {
    const config = render([newTestRoute()], { admin: { port: 18099, stubStatus: true }, generation: 7 });
    const admin = find(http(config), 'server').at(-1)!.block!;
    expect(find(admin, 'listen')[0]!.args).toEqual(['127.0.0.1:18099']);
    const locations = find(admin, 'location').map((l) => l.args.join(' '));
    expect(locations).toEqual(['= /vireo/generation', '= /nginx_status', '/']);
    expect(find(find(admin, 'location')[0]!.block!, 'return')[0]!.args).toEqual(['200', '7\n']);
    const without = find(http(render([newTestRoute()], { admin: { port: 18099 } })), 'server').at(-1)!.block!;
    expect(find(without, 'location').map((l) => l.args.join(' '))).toEqual(['= /vireo/generation', '/']);
  });

  it('writes the generation into the x-vireo-config header and honours the runner’s settings', () => {
    const config = render([newTestRoute()], {
      generation: 4,
      user: 'root',
      workerProcesses: 'auto',
      keepaliveMinTimeoutSeconds: 1,
    });
    const location = find(find(http(config), 'server')[0]!.block!, 'location')[0]!.block!;
    expect(find(location, 'add_header').map((d) => d.args)).toContainEqual(['x-vireo-config', '4', 'always']);
    expect(find(parseNginx(config), 'user')[0]!.args).toEqual(['root']);
    expect(find(parseNginx(config), 'worker_processes')[0]!.args).toEqual(['auto']);
    expect(find(http(config), 'keepalive_min_timeout')[0]!.args).toEqual(['1s']);
  });

  it('gives services whose names collide after sanitising distinct upstreams', () => {
    const config = render([
      newTestRoute({ namespace: 'a-b', service: 'c' }),
      newTestRoute({ namespace: 'a', service: 'b-c', listen: { host: '127.0.0.1', port: 18081 } }),
    ]);
    expect(find(http(config), 'upstream').map((u) => u.args[0])).toEqual([
      'a_b_c_primary',
      'a_b_c_canary',
      'a_b_c_2_primary',
      'a_b_c_2_canary',
    ]);
  });
});

describe('renderNginxConfig: escaping and hostile input', () => {
  const HOSTILE = [
    'a"; } server { listen 80; } #',
    "'; include /etc/passwd; '",
    '\\"; }',
    '\\',
    'x\\',
    '${request_id}',
    '$http_host',
    '} } } {',
    '# comment',
  ];

  it.each(HOSTILE)('keeps %j inside one string token for exact/prefix/suffix', (value) => {
    const benign = render([newTestRoute({ match: [{ headers: { 'x-user': { exact: 'benign' } } }] })]);
    for (const kind of ['exact', 'prefix', 'suffix'] as const) {
      const config = render([newTestRoute({ match: [{ headers: { 'x-user': { [kind]: value } } }] })]);
      expect(shape(parseNginx(config))).toEqual(shape(parseNginx(benign)));
      const key = [...mapRules(config, '$vireo_test_podinfo_m0_c0').keys()][1]!;
      const regex = new RegExp(key.slice(1));
      expect(
        regex.test(kind === 'prefix' ? `${value}tail` : kind === 'suffix' ? `head${value}` : value),
      ).toBe(true);
      if (kind === 'exact') expect(regex.test(`${value}x`)).toBe(false);
    }
  });

  it.each(HOSTILE.filter((v) => !v.endsWith('\\')))('keeps regex %j inside one string token', (value) => {
    const benign = render([newTestRoute({ match: [{ headers: { 'x-user': { regex: 'benign' } } }] })]);
    const config = render([newTestRoute({ match: [{ headers: { 'x-user': { regex: value } } }] })]);
    expect(shape(parseNginx(config))).toEqual(shape(parseNginx(benign)));
    expect([...mapRules(config, '$vireo_test_podinfo_m0_c0').keys()][1]).toBe(`~^(?:${value})$`);
  });

  it('keeps any accepted string inside its token (property)', () => {
    const benign = shape(
      parseNginx(render([newTestRoute({ match: [{ headers: { 'x-user': { exact: 'b' } } }] })])),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 40 }), (value) => {
        let config: string;
        try {
          config = render([newTestRoute({ match: [{ headers: { 'x-user': { exact: value } } }] })]);
        } catch (error) {
          // Only empty values and characters other than printable ASCII are refused (route-check.ts).
          expect(error).toBeInstanceOf(InvalidRouteError);
          expect(value === '' || /[^\x20-\x7e]/.test(value)).toBe(true);
          return;
        }
        expect(shape(parseNginx(config))).toEqual(benign);
        const key = [...mapRules(config, '$vireo_test_podinfo_m0_c0').keys()][1]!;
        expect(key).toBe(`~^${regexLiteral(value)}$`);
        expect(new RegExp(key.slice(1)).test(value)).toBe(true);
      }),
      { numRuns: 100 },
    );
  });

  it('quote() round-trips through nginx’s unescaping (property)', () => {
    fc.assert(
      fc.property(
        fc.string({ maxLength: 40 }).filter((s) => !/[\r\n\t]/.test(s)),
        (value) => {
          const parsed = parseNginx(`x ${quote(value)};`);
          expect(parsed).toEqual([{ name: 'x', args: [value] }]);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses control characters, naming the field', () => {
    const error = rejection(() =>
      render([newTestRoute({ match: [{ headers: { 'x-user': { regex: 'a\nb' } } }] })]),
    );
    expect(error.code).toBe('E_INVALID_ROUTE');
    expect(error.field).toBe('routes[0].match[0].headers["x-user"].regex');
    expect(error.message).toContain('control characters');
  });

  it('refuses regexes whose parentheses would escape the anchoring group', () => {
    for (const regex of ['a)|(b', '(a', 'a)', '[a', '(?:a'])
      expect(
        rejection(() => render([newTestRoute({ match: [{ headers: { 'x-user': { regex } } }] })])).field,
      ).toBe('routes[0].match[0].headers["x-user"].regex');
    // Escaped and bracketed parentheses are literal characters, not groups.
    expect(() =>
      render([newTestRoute({ match: [{ headers: { 'x-user': { regex: '\\(a[)(]\\)[]()]' } } }] })]),
    ).not.toThrow();
  });

  it.each([
    ['x_user', 'letters, digits and "-"'],
    ['x user', 'letters, digits and "-"'],
    ['x"y', 'letters, digits and "-"'],
    [':authority', 'pseudo-header'],
  ])('refuses header name %j', (name, message) => {
    const error = rejection(() =>
      render([newTestRoute({ match: [{ headers: { [name]: { exact: 'a' } } }] })]),
    );
    expect(error.field).toBe(`routes[0].match[0].headers[${JSON.stringify(name)}]`);
    expect(error.message).toContain(message);
  });

  it('refuses query parameter names that are not nginx variable names', () => {
    const error = rejection(() =>
      render([newTestRoute({ match: [{ queryParams: { 'a-b': { exact: '1' } } }] })]),
    );
    expect(error.field).toBe('routes[0].match[0].queryParams["a-b"]');
  });

  it('refuses non-ASCII values, naming the field', () => {
    const error = rejection(() =>
      render([newTestRoute({ match: [{ headers: { 'x-user': { exact: 'ünïcødé ✓' } } }] })]),
    );
    expect(error.field).toBe('routes[0].match[0].headers["x-user"].exact');
    expect(error.message).toContain('printable ASCII');
  });

  it('refuses match entries without conditions, and leaves out entries on Istio source labels', () => {
    expect(rejection(() => render([newTestRoute({ match: [{}] })])).field).toBe('routes[0].match[0]');
    // Local processes have no labels: the entry never matches, as with the built-in router.
    const config = render([
      newTestRoute({
        canaryWeight: 10,
        match: [{ sourceLabels: { app: 'x' }, headers: { x: { exact: 'a' } } }],
      }),
    ]);
    expect(config).not.toContain('$http_x');
    expect(config).not.toContain('_ab');
    expect(
      rejection(() => render([newTestRoute({ match: [{ headers: { x: { exact: 'a', regex: 'b' } } }] })]))
        .message,
    ).toContain('(got exact, regex)');
  });

  it.each([
    ['cookieName', { cookieName: 'a;b' }],
    ['cookieName', { cookieName: '$x' }],
    ['canaryValue', { canaryValue: 'a; Path=/evil' }],
    ['canaryValue', { canaryValue: 'a"b' }],
    ['canaryValue', { canaryValue: '${request_id}' }],
    ['previousValue', { previousValue: 'a b' }],
    ['primaryCookieName', { primaryCookieName: 'flagger-cookie', primaryValue: 'x' }],
    ['path', { path: '/a;b' }],
    ['path', { path: 'relative' }],
    ['domain', { domain: 'evil.com; Secure' }],
    ['maxAgeSeconds', { maxAgeSeconds: -1 }],
  ])('refuses session affinity %s %j', (field, change) => {
    const error = rejection(() =>
      render([
        newTestRoute({
          sessionAffinity: {
            cookieName: 'flagger-cookie',
            canaryValue: 'abc',
            maxAgeSeconds: 86400,
            primaryMaxAgeSeconds: 60,
            ...change,
          },
        }),
      ]),
    );
    expect(error.field).toBe(`routes[0].sessionAffinity.${field}`);
  });

  it('refuses port 0 and tells the caller to pick a port', () => {
    const error = rejection(() => render([newTestRoute({ listen: { host: '127.0.0.1', port: 0 } })]));
    expect(error.field).toBe('routes[0].listen.port');
    expect(error.message).toContain('pick a free port first');
  });

  it.each([
    ['listen', { listen: { host: '127.0.0.1; evil', port: 8080 } }, 'routes[0].listen.host'],
    ['port', { listen: { host: '127.0.0.1', port: 70000 } }, 'routes[0].listen.port'],
    ['https replica', { primary: ['https://127.0.0.1:8443'] }, 'routes[0].primary[0]'],
    ['replica path', { canary: ['http://127.0.0.1:8080/api'] }, 'routes[0].canary[0]'],
    ['replica query', { canary: ['http://127.0.0.1:8080/?a=b'] }, 'routes[0].canary[0]'],
    ['not a URL', { canary: ['127.0.0.1 8080'] }, 'routes[0].canary[0]'],
    ['weight', { canaryWeight: 101 }, 'routes[0].canaryWeight'],
    ['NaN weight', { canaryWeight: Number.NaN }, 'routes[0].canaryWeight'],
    ['mirror weight', { mirror: true, mirrorWeight: -5 }, 'routes[0].mirrorWeight'],
    ['namespace', { namespace: 'Default' }, 'routes[0].namespace'],
    ['service', { service: 'a/b' }, 'routes[0].service'],
  ])('refuses a bad %s', (_, change, field) => {
    expect(rejection(() => render([newTestRoute(change as Partial<LocalRoute>)])).field).toBe(field);
  });

  it('refuses two routes on one address or for one service', () => {
    expect(rejection(() => render([newTestRoute(), newTestRoute({ service: 'other' })])).field).toBe(
      'routes[1].listen',
    );
    expect(
      rejection(() => render([newTestRoute(), newTestRoute({ listen: { host: '127.0.0.1', port: 1 } })]))
        .field,
    ).toBe('routes[1]');
  });

  it('refuses a prefix nginx would misread', () => {
    expect(rejection(() => render([], { prefix: 'relative/dir' })).field).toBe('prefix');
    expect(rejection(() => render([], { prefix: '/tmp/$x' })).field).toBe('prefix');
    expect(rejection(() => render([], { user: 'root; daemon on' })).field).toBe('user');
  });
});

describe('regexLiteral', () => {
  it('matches exactly the literal text (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 30 }), fc.string({ maxLength: 5 }), (text, other) => {
        const regex = new RegExp(`^${regexLiteral(text)}$`);
        expect(regex.test(text)).toBe(true);
        if (other !== text) expect(regex.test(other)).toBe(false);
      }),
    );
  });
});
