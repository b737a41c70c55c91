/**
 * client-node's KubeConfig without client-node's generated API (docs/controller.md "Memory").
 *
 * The controller uses client-node only to read a kubeconfig (files, in-cluster ServiceAccount,
 * exec and auth-provider plugins) and to apply its credentials; its requests go through our own
 * client (client.ts). But client-node's `config.js` imports the generated API (every model and
 * API class, `gen/index.js`) for `makeApiClient` alone, and that import is about 50 MiB of
 * resident memory and 21 MiB of heap, a third of the controller's. So, when running from the
 * built JavaScript, a module resolve hook (kube-config-hooks.ts) gives `config.js` a stand-in for
 * `gen/index.js` that refuses `makeApiClient` (kube-config-gen-stub.ts). Other importers of the
 * generated API (the keptn provider) still get the real one.
 */
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { KubeConfig } from '@kubernetes/client-node';

let registered = false;

export type KubeConfigClass = new () => KubeConfig;

/** The KubeConfig class, loaded without the generated API where the hook can run. */
export async function kubeConfigClass(): Promise<KubeConfigClass> {
  const hooks = new URL('./kube-config-hooks.js', import.meta.url);
  // Under the test runner the sources are TypeScript, which a loader thread cannot load.
  if (!registered && import.meta.url.endsWith('.js') && existsSync(fileURLToPath(hooks))) {
    register(hooks.href);
    registered = true;
  }
  const { KubeConfig } = await import('@kubernetes/client-node/dist/config.js');
  return KubeConfig;
}
