/**
 * A module resolve hook (registered by kube-config.ts): client-node's `config.js` gets
 * kube-config-gen-stub.js in place of the generated API it imports only for `makeApiClient`.
 * Nothing else is redirected.
 */
interface ResolveContext {
  readonly parentURL?: string;
}

type NextResolve = (specifier: string, context: ResolveContext) => Promise<unknown>;

const GENERATED_API = './gen/index.js';
const KUBE_CONFIG_MODULE = '/@kubernetes/client-node/dist/config.js';

export async function resolve(
  specifier: string,
  context: ResolveContext,
  next: NextResolve,
): Promise<unknown> {
  if (specifier === GENERATED_API && context.parentURL?.endsWith(KUBE_CONFIG_MODULE) === true) {
    return { url: new URL('./kube-config-gen-stub.js', import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}
