/**
 * What the controller's copy of client-node's `config.js` (kube-config.ts) gets for modules it
 * imports for code paths most controllers never take: node-fetch's `Headers` (only
 * `applyToFetchOptions`), `SocksProxyAgent` (only a kubeconfig `proxy-url` of socks://, for
 * client-node's own agents) and the OIDC auth provider (only users with `auth-provider: oidc`).
 * Each stand-in loads the real module on first use and hands the work to it, so those paths
 * behave as before; until then they cost no memory (docs/controller.md "Memory").
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

interface Authenticator {
  applyAuthentication(user: unknown, options: unknown): Promise<void>;
}

/**
 * client-node's OIDC auth provider (`users[].user.auth-provider.name: oidc`), whose OpenID
 * client library (openid-client, oauth4webapi, jose) is loaded by the first request of such a
 * user. Which users it serves is decided as client-node's own does.
 */
export class OpenIDConnectAuth {
  private real: Promise<Authenticator> | undefined;

  isAuthProvider(user: { authProvider?: { name?: string } }): boolean {
    return user.authProvider?.name === 'oidc';
  }

  async applyAuthentication(user: unknown, options: unknown): Promise<void> {
    this.real ??= import('@kubernetes/client-node/dist/oidc_auth.js').then(
      (module) => new module.OpenIDConnectAuth(),
    );
    await (await this.real).applyAuthentication(user, options);
  }
}
