/**
 * Test helpers (not shipped): small real programs for supervisor tests, run as `node -e SCRIPT`
 * so they start in tens of milliseconds, and plain HTTP GETs without connection pooling (a pooled
 * keep-alive socket to a replica that is being stopped would fail for reasons of the pool's own).
 */
import { request } from 'node:http';
import { fileURLToPath } from 'node:url';

/**
 * An HTTP server on $PORT: `/` answers its identity as JSON, `/readyz` answers 503 until
 * READY_DELAY_MS has passed. Writes one line to stdout and one to stderr once listening.
 * SIGTERM closes it gracefully (exit 0).
 */
export const SERVER_SCRIPT = `
const http = require('node:http');
const started = Date.now();
const readyDelay = Number(process.env.READY_DELAY_MS || 0);
const server = http.createServer((req, res) => {
  if (req.url === '/readyz') {
    res.writeHead(Date.now() - started >= readyDelay ? 200 : 503);
    return res.end();
  }
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(JSON.stringify({
    pid: process.pid,
    port: Number(process.env.PORT),
    workload: process.env.VIREO_WORKLOAD,
    replica: process.env.VIREO_REPLICA,
    version: process.env.VERSION || '',
  }));
});
server.listen(Number(process.env.PORT), '127.0.0.1', () => {
  console.log('listening on ' + process.env.PORT);
  console.error('ready for work (stderr)');
});
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
`;

/** Exits at once with code 3: a crash loop. */
export const CRASH_SCRIPT = `process.exit(3)`;

/**
 * Starts a grandchild in the same process group, prints `grandchild <pid>`, and waits. With
 * STUBBORN=1 both ignore SIGTERM, so only SIGKILL stops them.
 */
export const GRANDPARENT_SCRIPT = `
const { spawn } = require('node:child_process');
const stubborn = process.env.STUBBORN === '1';
const code = (stubborn ? "process.on('SIGTERM', () => {});" : '') + 'setInterval(() => {}, 1000);';
const grandchild = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
console.log('grandchild ' + grandchild.pid);
if (stubborn) process.on('SIGTERM', () => {});
setInterval(() => {}, 1000);
`;

/** The demo service's entry point, run as TypeScript through tsx. */
export const DEMO_SERVICE_MAIN = fileURLToPath(new URL('./demo-service-main.ts', import.meta.url));
export const DEMO_SERVICE_ARGS = ['--import', 'tsx', DEMO_SERVICE_MAIN];

export interface Answer {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
}

/** GET on a fresh connection (Connection: close). Rejects on connection errors. */
export function httpGet(url: string, timeoutMs = 5_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(url, { agent: false, signal: AbortSignal.timeout(timeoutMs) }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body, headers: response.headers }),
      );
      response.on('error', reject);
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}
