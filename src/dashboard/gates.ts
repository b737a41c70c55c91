/**
 * Opening and closing a canary's confirm gates from the page: the same loadtester endpoints
 * `vireo gate open|close` calls (src/cli/gate-command.ts), at the origin of the canary's own
 * confirm-* webhook URL (only the origin: the path is fixed here, the webhook's metadata unused).
 */
import { request } from 'undici';
import { VireoError } from '../shared/errors.js';

export interface GateReceipt {
  readonly gate: 'open' | 'close';
  readonly loadtester: string;
  readonly status: number;
}

export interface GateClient {
  set(loadtester: string, namespace: string, name: string, gate: 'open' | 'close'): Promise<GateReceipt>;
}

export class LoadtesterGates implements GateClient {
  constructor(private readonly token: string | undefined) {}

  async set(
    loadtester: string,
    namespace: string,
    name: string,
    gate: 'open' | 'close',
  ): Promise<GateReceipt> {
    let status: number;
    let text: string;
    try {
      const answer = await request(new URL(gate === 'open' ? '/gate/open' : '/gate/close', loadtester), {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.token === undefined ? {} : { authorization: `Bearer ${this.token}` }),
        },
        body: JSON.stringify({ name, namespace, phase: '', checksum: '' }),
        headersTimeout: 10_000,
        bodyTimeout: 10_000,
      });
      status = answer.statusCode;
      text = (await answer.body.text()).trim().slice(0, 200);
    } catch (cause) {
      throw new VireoError(
        'E_LOADTESTER_UNREACHABLE',
        `cannot reach the loadtester at ${loadtester}: ${cause instanceof Error ? cause.message : String(cause)}`,
      );
    }
    if (status < 200 || status > 299)
      throw new VireoError(
        'E_LOADTESTER_REFUSED',
        `the loadtester at ${loadtester} answered HTTP ${status}${text === '' ? '' : `: ${text}`}`,
      );
    return { gate, loadtester, status };
  }
}
