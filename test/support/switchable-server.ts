/**
 * Test helper (not shipped behaviour): a real HTTP server on 127.0.0.1 that keeps its port while
 * a test switches it between the ways a backend goes wrong:
 * - `up`: answers as told;
 * - `failing`: answers with the failure answer (a 500, a 503);
 * - `hanging`: reads the request and never answers;
 * - `down`: not listening at all, so connections are refused (the process is gone).
 *
 * It records every request it read, with the state it was in, and how many it left unanswered.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Answer, RecordedRequest } from './recording-server.js';

export type ServerState = 'up' | 'failing' | 'hanging' | 'down';

export interface SwitchedRequest extends RecordedRequest {
  readonly state: ServerState;
}

export interface SwitchableServer {
  readonly url: string;
  readonly requests: SwitchedRequest[];
  readonly state: ServerState;
  /** Requests read and not answered (hanging), still open. */
  readonly openRequests: number;
  /** Switches state; `down` closes the listener and every connection, leaving the port free. */
  setState(state: ServerState): Promise<void>;
  close(): Promise<void>;
}

export interface SwitchableServerOptions {
  readonly answer: (request: RecordedRequest) => Answer;
  /** The answer in state `failing`; a 503 by default. */
  readonly failure?: Answer;
  readonly state?: ServerState;
}

export async function startSwitchableServer(options: SwitchableServerOptions): Promise<SwitchableServer> {
  const requests: SwitchedRequest[] = [];
  const open = new Set<ServerResponse>();
  const sockets = new Set<Socket>();
  let state: ServerState = 'up';
  const failure = options.failure ?? { status: 503, body: 'service unavailable' };

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded: SwitchedRequest = {
        method: req.method ?? '',
        path: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
        state,
      };
      requests.push(recorded);
      if (state === 'hanging') {
        open.add(res);
        res.on('close', () => open.delete(res));
        return;
      }
      const reply = state === 'failing' ? failure : options.answer(recorded);
      res
        .writeHead(reply.status, { 'content-type': reply.contentType ?? 'text/plain', ...reply.headers })
        .end(reply.body ?? '');
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  let listening = true;

  const stopListening = async (): Promise<void> => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const socket of sockets) socket.destroy();
    await closed;
  };
  const listen = async (): Promise<void> => {
    if (listening) return;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    listening = true;
  };

  const switchable: SwitchableServer = {
    url: `http://127.0.0.1:${port}`,
    requests,
    get state() {
      return state;
    },
    get openRequests() {
      return open.size;
    },
    async setState(next: ServerState): Promise<void> {
      if (next === 'down') await stopListening();
      else await listen();
      state = next;
    },
    close: stopListening,
  };
  if (options.state !== undefined) await switchable.setState(options.state);
  return switchable;
}
