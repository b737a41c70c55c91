/**
 * The few apiserver calls the cluster helper makes itself (readiness, fake Nodes, tokens), over
 * node:https with the admin client certificate: global fetch cannot present a client certificate
 * without importing undici, and the tests' own client library stays out of the helper.
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';

import { TestClusterError } from './cluster-errors.js';

export interface ApiResponse {
  readonly status: number;
  readonly text: string;
}

export class AdminApiClient {
  private readonly agent: Agent;

  constructor(
    private readonly server: string,
    credentials: { caCertPath: string; certPath: string; keyPath: string },
  ) {
    this.agent = new Agent({
      keepAlive: true,
      ca: readFileSync(credentials.caCertPath),
      cert: readFileSync(credentials.certPath),
      key: readFileSync(credentials.keyPath),
    });
  }

  /** Sends one request; resolves with any HTTP status, rejects only on transport errors. */
  send(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<ApiResponse> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = request(
        new URL(path, this.server),
        {
          method,
          agent: this.agent,
          timeout: timeoutMs,
          headers: {
            accept: 'application/json',
            ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (chunk: Buffer) => chunks.push(chunk));
          res.on('end', () =>
            resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }),
          );
          res.on('error', reject);
        },
      );
      req.on('timeout', () => req.destroy(new Error(`${method} ${path} timed out after ${timeoutMs} ms`)));
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** Like send() but requires a 2xx answer and parses it as JSON. */
  async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    let response: ApiResponse;
    try {
      response = await this.send(method, path, body);
    } catch (error) {
      throw new TestClusterError('E_CLUSTER_API', `${method} ${path} failed: ${String(error)}`, {
        cause: error,
      });
    }
    if (response.status < 200 || response.status > 299) {
      throw new TestClusterError(
        'E_CLUSTER_API',
        `${method} ${path} answered HTTP ${response.status}: ${response.text.slice(0, 500)}`,
      );
    }
    return JSON.parse(response.text) as T;
  }

  /** True when the request answered 2xx; false on any other status or a transport error. */
  async succeeds(path: string): Promise<boolean> {
    try {
      const response = await this.send('GET', path, undefined, 5_000);
      return response.status >= 200 && response.status <= 299;
    } catch {
      return false;
    }
  }

  close(): void {
    this.agent.destroy();
  }
}
