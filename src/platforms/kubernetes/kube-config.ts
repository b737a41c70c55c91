/**
 * client-node's KubeConfig without client-node's generated API (docs/controller.md "Memory").
 *
 * The controller uses client-node only to read a kubeconfig (files, in-cluster ServiceAccount,
 * exec and auth-provider plugins) and to apply its credentials; its requests go through our own
 * client (client.ts). But client-node's `config.js` imports the generated API (every model and
 * API class, `gen/index.js`) for `makeApiClient` alone, and that import is about 50 MiB of
 * resident memory and 21 MiB of heap, a third of the controller's. So, when running from the
 * built JavaScript, the controller loads its own copy of `config.js` whose only difference is
 * that import, pointed at a stand-in that refuses `makeApiClient` (kube-config-gen-stub.ts): the
 * copy is evaluated from a `data:` URL, with every other import made absolute so it resolves to
 * the very modules `config.js` would load, except node-fetch, socks-proxy-agent and the OIDC auth
 * provider, which it loads on first use (kube-config-lazy-deps.ts). Importers of the full package (the keptn provider, the
 * CLI's secret reader) get client-node's own KubeConfig and generated API, unchanged.
 *
 * A module resolve hook did this before; its loader thread (a second V8 isolate through which
 * every module load passed) cost about 12 MiB of resident memory for the process's lifetime.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';

export type KubeConfigClass = new () => KubeConfig;

const CONFIG_MODULE = '@kubernetes/client-node/dist/config.js';
/** Packages config.js imports for paths the controller never takes, loaded on first use instead. */
const LOADED_ON_FIRST_USE = new Set(['node-fetch', 'socks-proxy-agent', './oidc_auth.js']);
const GENERATED_API_IMPORT = /from '\.\/gen\/index\.js'/g;
const STATIC_IMPORT = /(\bfrom\s+)'([^']+)'/g;

/** The KubeConfig class, loaded without the generated API where that is possible. */
export async function kubeConfigClass(): Promise<KubeConfigClass> {
  // Under the test runner the sources are TypeScript and modules go through its own loader,
  // which does not evaluate data: URLs: the full module is loaded there.
  const copy = import.meta.url.endsWith('.js') ? configWithoutGeneratedApi() : undefined;
  if (copy !== undefined) {
    const { KubeConfig } = (await import(copy)) as { KubeConfig: KubeConfigClass };
    return KubeConfig;
  }
  const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
  return KubeConfig;
}

/**
 * `config.js` as a data: URL with its generated-API import replaced, or undefined when the
 * installed client-node does not have the expected shape (then the full module is loaded: more
 * memory, same behaviour).
 */
export function configWithoutGeneratedApi(): string | undefined {
  const configUrl = new URL(import.meta.resolve(CONFIG_MODULE));
  const source = readFileSync(configUrl, 'utf8');
  if ((source.match(GENERATED_API_IMPORT) ?? []).length !== 1) return undefined;
  // Bare imports are resolved from here, so they must be the packages config.js itself would get:
  // client-node must not carry its own copies of them.
  const nested = new URL('../node_modules/', configUrl);
  const stub = new URL('./kube-config-gen-stub.js', import.meta.url).href;
  const lazy = new URL('./kube-config-lazy-deps.js', import.meta.url).href;
  let unresolvable = false;
  const rewritten = source.replace(STATIC_IMPORT, (_whole, from: string, specifier: string) => {
    if (specifier === './gen/index.js') return `${from}'${stub}'`;
    if (specifier.startsWith('node:')) return `${from}'${specifier}'`;
    if (LOADED_ON_FIRST_USE.has(specifier)) return `${from}'${lazy}'`;
    if (specifier.startsWith('./') || specifier.startsWith('../'))
      return `${from}'${new URL(specifier, configUrl).href}'`;
    const packageName = specifier.startsWith('@')
      ? specifier.split('/').slice(0, 2).join('/')
      : specifier.split('/')[0];
    if (packageName === undefined || existsSync(fileURLToPath(new URL(packageName, nested)))) {
      unresolvable = true;
      return `${from}'${specifier}'`;
    }
    return `${from}'${import.meta.resolve(specifier)}'`;
  });
  // A dynamic import or require would resolve against the data: URL and fail.
  if (unresolvable || /\bimport\s*\(|\brequire\s*\(/.test(rewritten)) return undefined;
  return `data:text/javascript;charset=utf-8,${encodeURIComponent(rewritten)}`;
}
