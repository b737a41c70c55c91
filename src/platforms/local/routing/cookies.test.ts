import { describe, expect, it } from 'vitest';
import { compileRoute, decide } from './builtin/routing.js';
import { quote, renderNginxConfig } from './nginx/nginx-config.js';
import { setCookieHeader } from './cookies.js';
import type { LocalRoute, SessionAffinityRule } from './route.js';

const everyAttribute: SessionAffinityRule = {
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
};

const route: LocalRoute = {
  namespace: 'test',
  service: 'podinfo',
  listen: { host: '127.0.0.1', port: 18080 },
  primary: ['http://127.0.0.1:41001'],
  canary: ['http://127.0.0.1:41002'],
  canaryWeight: 50,
  mirror: false,
  match: [],
  sessionAffinity: everyAttribute,
};

describe('setCookieHeader', () => {
  it("writes the attributes in Flagger's order, leaving out those not set", () => {
    expect(setCookieHeader('c', 'v', 86_400, everyAttribute)).toBe(
      'c=v; Max-Age=86400; Domain=example.test; HttpOnly; Path=/; SameSite=Strict; Secure',
    );
    expect(setCookieHeader('c', 'v', 60, { path: '/app', secure: false })).toBe('c=v; Max-Age=60; Path=/app');
  });
});

describe('one cookie format for both local routers', () => {
  const builtin = compileRoute(route);
  const nginxConfig = renderNginxConfig([route], { prefix: '/tmp/vireo-nginx' });
  const cases = [
    ['the canary cookie', () => decide(builtin, { headers: {}, url: '/' }, () => 0.1).setCookies],
    ['the primary cookie', () => decide(builtin, { headers: {}, url: '/' }, () => 0.9).setCookies],
    [
      'the expiring cookie of a previous run',
      () =>
        decide(builtin, { headers: { cookie: 'flagger-cookie=OLDoldOLDo' }, url: '/' }, () => 0).setCookies,
    ],
  ] as const;

  it.each(cases)('the built-in proxy answers %s exactly as nginx is configured to', (_, answered) => {
    const [setCookie] = answered();
    expect(setCookie).toBeDefined();
    // nginx writes each Set-Cookie value as one quoted string in a map of the route.
    expect(nginxConfig).toContain(quote(setCookie!));
  });

  it('expires a cookie with the attributes it was set with', () => {
    const [expire] = decide(
      builtin,
      { headers: { cookie: 'flagger-cookie=OLDoldOLDo' }, url: '/' },
      () => 0,
    ).setCookies;
    expect(expire).toBe(
      'flagger-cookie=OLDoldOLDo; Max-Age=-1; Domain=example.test; HttpOnly; Path=/; SameSite=Strict; Secure',
    );
  });
});
