/**
 * The built controller reads kubeconfigs with client-node's KubeConfig but without client-node's
 * generated API, which it never uses and which was a third of its memory
 * (src/platforms/kubernetes/kube-config.ts, docs/controller.md "Memory"). Runs the built
 * JavaScript (dist/), as `vireo controller` does.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';

const repository = join(import.meta.dirname, '..', '..');
const kubeConfigModule = pathToFileURL(
  join(repository, 'dist', 'platforms', 'kubernetes', 'kube-config.js'),
).href;

function run(script: string): Record<string, unknown> {
  const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: repository,
    encoding: 'utf8',
    timeout: 60_000,
  });
  expect(result.stderr).toBe('');
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

const kubeconfig = JSON.stringify({
  apiVersion: 'v1',
  clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
  users: [{ name: 'u', user: { token: 'a-token' } }],
  contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
  'current-context': 'x',
});

describe('the controller loads KubeConfig without the generated API', () => {
  it("reads a kubeconfig and applies its credentials; makeApiClient refuses, saying why, while the full package's KubeConfig keeps it", () => {
    const answer = run(`
      const { kubeConfigClass } = await import(${JSON.stringify(kubeConfigModule)});
      const KubeConfig = await kubeConfigClass();
      const config = new KubeConfig();
      config.loadFromString(${JSON.stringify(kubeconfig)});
      const options = { headers: {} };
      await config.applyToHTTPSOptions(options);
      let refusal;
      try { config.makeApiClient(class {}); } catch (error) { refusal = error.code; }
      // The controller's copy loaded none of the generated API (about 20 MiB of heap with it, 10 without).
      const loadedGeneratedApi = process.memoryUsage().heapUsed > 20 * 1024 * 1024;
      // Importers of the package's own entry (the keptn provider) get client-node unchanged.
      const full = await import('@kubernetes/client-node');
      const other = new full.KubeConfig();
      other.loadFromString(${JSON.stringify(kubeconfig)});
      const api = other.makeApiClient(full.CoreV1Api);
      console.log(JSON.stringify({
        server: config.getCurrentCluster()?.server,
        authorization: options.headers.Authorization,
        refusal,
        loadedGeneratedApi,
        sameClass: full.KubeConfig === KubeConfig,
        fullApi: api instanceof full.CoreV1Api,
      }));
    `);
    expect(answer).toEqual({
      server: 'https://127.0.0.1:6443',
      authorization: 'Bearer a-token',
      refusal: 'E_KUBE_API_CLIENT',
      loadedGeneratedApi: false,
      sameClass: false,
      fullApi: true,
    });
  });

  it("loads node-fetch and socks-proxy-agent only when a kubeconfig needs them, and then they work as client-node's", () => {
    const socksKubeconfig = JSON.stringify({
      apiVersion: 'v1',
      clusters: [
        { name: 'c', cluster: { server: 'https://127.0.0.1:6443', 'proxy-url': 'socks5://127.0.0.1:1080' } },
      ],
      users: [{ name: 'u', user: { token: 'a-token' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    });
    const answer = run(`
      import { createRequire } from 'node:module';
      const require = createRequire(${JSON.stringify(kubeConfigModule)});
      const loaded = (name) => Object.keys(require.cache).some((path) => path.includes('/node_modules/' + name + '/'));
      const { kubeConfigClass } = await import(${JSON.stringify(kubeConfigModule)});
      const KubeConfig = await kubeConfigClass();
      const config = new KubeConfig();
      config.loadFromString(${JSON.stringify(socksKubeconfig)});
      const before = { fetch: loaded('node-fetch'), socks: loaded('socks-proxy-agent') };
      const options = { headers: {} };
      await config.applyToHTTPSOptions(options);
      const fetchOptions = await config.applyToFetchOptions({ headers: {} });
      console.log(JSON.stringify({
        before,
        agent: options.agent.constructor.name,
        proxy: options.agent.proxy?.host,
        fetchAuthorization: fetchOptions.headers.get('authorization'),
        after: { fetch: loaded('node-fetch'), socks: loaded('socks-proxy-agent') },
      }));
    `);
    expect(answer).toEqual({
      before: { fetch: false, socks: false },
      agent: 'SocksProxyAgent',
      proxy: '127.0.0.1',
      fetchAuthorization: 'Bearer a-token',
      after: { fetch: true, socks: true },
    });
  });

  it("authenticates an OIDC user with client-node's own provider, loaded on the first request", () => {
    const encode = (value: object): string => Buffer.from(JSON.stringify(value)).toString('base64url');
    const idToken = `${encode({ alg: 'none' })}.${encode({ exp: 4_102_444_800, sub: 'me' })}.signature`;
    const oidcKubeconfig = JSON.stringify({
      apiVersion: 'v1',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443' } }],
      users: [
        {
          name: 'u',
          user: {
            'auth-provider': {
              name: 'oidc',
              config: { 'client-id': 'vireo', 'id-token': idToken, 'idp-issuer-url': 'https://127.0.0.1:1' },
            },
          },
        },
      ],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'x',
    });
    const answer = run(`
      const { kubeConfigClass } = await import(${JSON.stringify(kubeConfigModule)});
      const KubeConfig = await kubeConfigClass();
      const config = new KubeConfig();
      config.loadFromString(${JSON.stringify(oidcKubeconfig)});
      const options = { headers: {} };
      await config.applyToHTTPSOptions(options);
      console.log(JSON.stringify({ authorization: options.headers.Authorization }));
    `);
    expect(answer).toEqual({ authorization: `Bearer ${idToken}` });
  });
});
