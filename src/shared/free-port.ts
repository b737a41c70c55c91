/**
 * A TCP port the kernel just handed out, for a child process (a replica, nginx, Prometheus) that
 * must be told its port before it starts. The port is free when this resolves and stays free
 * until someone else binds it: callers that race other processes for it retry on EADDRINUSE.
 */
import { createServer } from 'node:net';

/** Loopback: local mode and its children listen only where the machine's own users reach them. */
export const LOOPBACK_HOST = '127.0.0.1';

export function findFreePort(host: string = LOOPBACK_HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}
