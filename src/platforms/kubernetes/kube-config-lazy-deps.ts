/**
 * What the controller's copy of client-node's `config.js` (kube-config.ts) gets for two packages
 * it imports for code paths the controller never takes: node-fetch's `Headers` (only
 * `applyToFetchOptions`) and `SocksProxyAgent` (only a kubeconfig `proxy-url` of socks://, for
 * client-node's own agents). Each stand-in loads the real package on first use and returns its
 * object, so those paths behave as before; until then the packages cost no memory (about 10 MiB
 * of resident memory together, docs/controller.md "Memory").
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export class Headers {
  constructor(...args: unknown[]) {
    const real = require('node-fetch') as { Headers: new (...args: unknown[]) => object };
    return new real.Headers(...args);
  }
}

export class SocksProxyAgent {
  constructor(...args: unknown[]) {
    const real = require('socks-proxy-agent') as { SocksProxyAgent: new (...args: unknown[]) => object };
    return new real.SocksProxyAgent(...args);
  }
}
