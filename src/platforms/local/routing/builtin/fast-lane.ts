/**
 * The built-in router's fast lane (docs/adr/0034-router-fast-lane.md): the router's listener is a
 * plain `net` server, and each connection's requests are read here, off node:http, as long as they
 * are the simple kind that makes up nearly all traffic: HTTP/1.1, no body (GET, HEAD, DELETE,
 * OPTIONS without Content-Length or Transfer-Encoding), the whole head in what has arrived, strictly
 * well-formed. The answer is written straight to the socket from the upstream client's parsed answer,
 * head and a small body in one write.
 *
 * Anything else (a body, Expect, Upgrade, a Connection header naming other headers, HTTP/1.0, a
 * head split over several reads, a malformed line, a head over 16 KiB) hands the connection, with
 * the bytes already read, to the router's node:http server for the rest of its life, between two
 * requests: node:http then answers exactly as it did before this lane existed (including its 400,
 * 431 and timeouts). So the lane never has to judge a doubtful request; it only recognises the
 * certain ones.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Dispatcher } from 'undici';
import type { Arm, RoutingDecision, RoutingTable } from './routing.js';
import type { UpstreamDispatcher } from './upstream-client.js';
import {
  connectionTokens,
  FIELD_VALUE_CHAR,
  HOP_BY_HOP,
  ONE_WRITE_LIMIT_BYTES,
  ONLY_HOP_BY_HOP_TOKEN,
  TOKEN_CHAR,
} from './hop-by-hop.js';

/** What the lane needs from its router (proxy.ts), kept narrow so each side can be read alone. */
export interface FastLaneHost {
  /** The routing table in force; read once per request. */
  currentTable(): RoutingTable;
  decideFor(table: RoutingTable, headers: IncomingHttpHeaders, url: string): RoutingDecision | undefined;
  /** The upstream client (upstream-client.ts; undici's Agent fits too). */
  readonly dispatcher: UpstreamDispatcher;
  now(): number;
  /** True once close() began: answers say `connection: close` and idle connections end. */
  isClosing(): boolean;
  /** Gives the connection to node:http, `pending` first (bytes read but not yet handled). */
  handOver(socket: Socket, pending: Buffer | undefined): void;
  /** Counts one answered (or abandoned) request, as the node:http path does. */
  record(table: RoutingTable, arm: Arm, status: number | undefined, started: number): void;
  /** Sends a copy of a bodiless request to the canary (mirroring). */
  mirror(table: RoutingTable, method: string, url: string, headers: readonly string[]): void;
  readonly backendHeader: string;
}

/** node:http's default limit; a longer head goes to node:http, which answers 431. */
const MAX_HEAD_BYTES = 16 * 1024;
/** Bytes a client may send ahead (pipelining) while an answer is pending, before reading pauses. */
const MAX_BUFFERED_BYTES = 64 * 1024;
/** Idle keep-alive connections close after this long, as node:http's keepAliveTimeout does. */
export const FAST_LANE_KEEP_ALIVE_MS = 5_000;

const HEAD_END = Buffer.from('\r\n\r\n');
const REQUEST_LINE = /^(GET|HEAD|DELETE|OPTIONS) (\/[!-~]*) HTTP\/1\.1$/;
/** RFC 9110 field: token name, value of visible characters, spaces, tabs and obs-text; no CR, LF or NUL. */
export const FIELD_LINE =
  /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+):[ \t]*((?:[\t\x20-\x7e\x80-\xff]*[!-~\x80-\xff])?)[ \t]*$/;

/** Request headers that mean the request is not the lane's simple kind. */
const HANDED_OVER_REQUEST_HEADERS = new Set(['transfer-encoding', 'expect', 'upgrade']);

const CONNECT_FAILURES = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
const STALE_SOCKET = new Set(['ECONNRESET', 'EPIPE', 'UND_ERR_SOCKET']);
const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'DELETE']);
const NO_HEADERS: IncomingHttpHeaders = Object.freeze({});

/** One simple request, parsed. */
interface FastRequest {
  readonly method: string;
  readonly url: string;
  /** Forwarded to the upstream: [name, value, …], hop-by-hop dropped, X-Forwarded-* added. */
  readonly upstreamHeaders: string[];
  /** For routing (cookies, A/B matches); only built when the table reads headers. */
  readonly headers: IncomingHttpHeaders;
  readonly closeAfter: boolean;
}

/** Adopts a connection accepted by the router's listener. */
export function serveFast(host: FastLaneHost, socket: Socket, connections: Set<FastConnection>): void {
  const connection = new FastConnection(host, socket, connections);
  connections.add(connection);
}

export class FastConnection {
  private pending: Buffer | undefined;
  private exchange: FastExchange | undefined;
  private handedOver = false;
  private clientEnded = false;
  private readonly onData = (chunk: Buffer): void => this.received(chunk);
  private readonly onEnd = (): void => this.ended();
  private readonly onClose = (): void => this.closed();
  private readonly onTimeout = (): void => this.idleTimeout();
  private readonly onNext = (): void => {
    if (this.exchange === undefined) this.serveNext();
  };

  constructor(
    private readonly host: FastLaneHost,
    readonly socket: Socket,
    private readonly connections: Set<FastConnection>,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', ignore); // 'close' follows and cleans up
    socket.setTimeout(FAST_LANE_KEEP_ALIVE_MS, this.onTimeout);
  }

  /** No answer pending: safe to close when the router drains. */
  get idle(): boolean {
    return this.exchange === undefined && !this.handedOver;
  }

  /** Ends the connection now if no answer is pending (the router is closing). */
  closeIfIdle(): void {
    if (this.idle) this.socket.destroy();
  }

  private received(chunk: Buffer): void {
    this.pending = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.exchange !== undefined) {
      // Pipelined: handled after the current answer. Stop reading if the client runs far ahead.
      if (this.pending.length > MAX_BUFFERED_BYTES) this.socket.pause();
      return;
    }
    this.serveNext();
  }

  /** Serves the next buffered request, or hands the connection over when it is not a simple one. */
  private serveNext(): void {
    const buffer = this.pending;
    if (buffer === undefined || this.handedOver || this.socket.destroyed) return;
    const end = buffer.indexOf(HEAD_END);
    const request =
      end === -1 || end > MAX_HEAD_BYTES ? undefined : parseSimpleRequest(buffer, end, this.socket);
    if (request === undefined) {
      this.handOver();
      return;
    }
    const rest = end + HEAD_END.length;
    this.pending = rest === buffer.length ? undefined : buffer.subarray(rest);
    this.exchange = new FastExchange(this.host, this, request);
    this.exchange.start();
  }

  private handOver(): void {
    this.handedOver = true;
    const { socket } = this;
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    socket.off('close', this.onClose);
    socket.off('error', ignore);
    socket.setTimeout(0);
    socket.off('timeout', this.onTimeout);
    this.connections.delete(this);
    const pending = this.pending;
    this.pending = undefined;
    socket.resume();
    this.host.handOver(socket, pending);
  }

  /** The exchange's answer has been written in full. */
  answered(exchange: FastExchange, closeAfter: boolean): void {
    if (this.exchange !== exchange) return;
    this.exchange = undefined;
    if (closeAfter || this.host.isClosing() || this.clientEnded) {
      this.socket.end();
      return;
    }
    if (this.socket.isPaused()) this.socket.resume();
    // Next turn of the event loop: an answer can be synchronous (the router's own 503), and thousands
    // of pipelined requests served one inside the other would overflow the stack.
    if (this.pending !== undefined) setImmediate(this.onNext);
  }

  /** The client closed its side: like node:http, a request still unanswered is abandoned. */
  private ended(): void {
    this.clientEnded = true;
    if (this.exchange === undefined) this.socket.end();
    else this.socket.destroy(); // 'close' follows: the exchange is counted as the client's (499)
  }

  private idleTimeout(): void {
    if (this.exchange === undefined) this.socket.destroy();
  }

  private closed(): void {
    this.connections.delete(this);
    const exchange = this.exchange;
    this.exchange = undefined;
    exchange?.clientLeft();
  }
}

/**
 * Parses a request head that is complete in `buffer` (ending at `end`), or answers undefined when
 * it is not a simple, well-formed bodiless HTTP/1.1 request (node:http takes it then).
 */
export function parseSimpleRequest(buffer: Buffer, end: number, socket: Socket): FastRequest | undefined {
  // One latin1 string for the whole head, read by character codes: no split, no pattern per line.
  const text = buffer.toString('latin1', 0, end);
  let lineEnd = text.indexOf('\r\n');
  if (lineEnd === -1) lineEnd = end;
  const first = REQUEST_LINE.exec(lineEnd === end ? text : text.slice(0, lineEnd));
  if (first === null) return undefined;
  const upstreamHeaders: string[] = [];
  let host: string | undefined;
  let forwardedFor: string | undefined;
  let forwardedProto = false;
  let forwardedHost = false;
  let closeAfter = false;
  while (lineEnd < end) {
    const lineStart = lineEnd + 2;
    lineEnd = text.indexOf('\r\n', lineStart);
    if (lineEnd === -1) lineEnd = end;
    const colon = fieldNameEnd(text, lineStart, lineEnd);
    if (colon === -1) return undefined;
    const valueEnd = fieldValueEnd(text, colon + 1, lineEnd);
    if (valueEnd === -1) return undefined;
    let valueStart = colon + 1;
    while (valueStart < valueEnd && isWhitespace(text.charCodeAt(valueStart))) valueStart += 1;
    const name = text.slice(lineStart, colon).toLowerCase();
    const value = text.slice(valueStart, valueEnd);
    if (name === 'host') {
      if (host !== undefined) return undefined;
      host = value;
    } else if (name === 'content-length') {
      if (value !== '0') return undefined;
    } else if (name === 'connection') {
      if (!ONLY_HOP_BY_HOP_TOKEN.test(value)) return undefined; // it names headers: node:http's path drops them
      if (/close/i.test(value)) closeAfter = true;
      continue;
    } else if (HANDED_OVER_REQUEST_HEADERS.has(name)) {
      return undefined;
    } else if (HOP_BY_HOP.has(name)) {
      // (transfer-encoding and upgrade were handed over just above, never dropped)
      continue;
    } else if (name === 'x-forwarded-for') {
      forwardedFor = forwardedFor === undefined ? value : `${forwardedFor}, ${value}`;
      continue;
    } else if (name === 'x-forwarded-proto') {
      forwardedProto = true;
    } else if (name === 'x-forwarded-host') {
      forwardedHost = true;
    }
    upstreamHeaders.push(name, value);
  }
  if (host === undefined) return undefined; // node:http answers 400 (HTTP/1.1 requires Host)
  const client = socket.remoteAddress;
  if (client !== undefined) {
    upstreamHeaders.push(
      'x-forwarded-for',
      forwardedFor === undefined ? client : `${forwardedFor}, ${client}`,
    );
  } else if (forwardedFor !== undefined) {
    upstreamHeaders.push('x-forwarded-for', forwardedFor);
  }
  if (!forwardedProto) upstreamHeaders.push('x-forwarded-proto', 'http');
  if (!forwardedHost) upstreamHeaders.push('x-forwarded-host', host);
  return {
    method: first[1]!,
    url: first[2]!,
    upstreamHeaders,
    headers: NO_HEADERS,
    closeAfter,
  };
}

/**
 * Where a field line's name ends (the colon), or -1 when the line does not start with a token
 * and a colon. Together with fieldValueEnd, it accepts exactly the lines FIELD_LINE matches.
 */
export function fieldNameEnd(text: string, start: number, end: number): number {
  let at = start;
  while (at < end && TOKEN_CHAR[text.charCodeAt(at)] === 1) at += 1;
  return at === start || at === end || text.charCodeAt(at) !== COLON ? -1 : at;
}

/**
 * Where a field value from `start` to `end` ends without its trailing spaces and tabs, or -1 when
 * it holds a character a value may not (CR, LF, NUL, other controls, DEL, beyond latin1).
 */
export function fieldValueEnd(text: string, start: number, end: number): number {
  let valueEnd = start;
  for (let at = start; at < end; at += 1) {
    const code = text.charCodeAt(at);
    if (code > 0xff || FIELD_VALUE_CHAR[code] !== 1) return -1;
    if (!isWhitespace(code)) valueEnd = at + 1;
  }
  return valueEnd;
}

const COLON = 0x3a;
const isWhitespace = (code: number): boolean => code === 0x20 || code === 0x09;

/** The headers as node:http would present them to the routing rules (names lowercased, repeats joined). */
function headersObject(list: readonly string[]): IncomingHttpHeaders {
  const headers: Record<string, string> = {};
  for (let i = 0; i < list.length; i += 2) {
    const name = list[i]!;
    const value = list[i + 1]!;
    const prior = headers[name];
    headers[name] = prior === undefined ? value : `${prior}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return headers;
}

/** One request on the fast lane, and the dispatch handler (undici's shape) for its upstream trip. */
class FastExchange implements Dispatcher.DispatchHandler {
  private table!: RoutingTable;
  private decision!: RoutingDecision;
  private replicas: readonly URL[] = [];
  private index = 0;
  private retried = false;
  private readonly started: number;
  private status: number | undefined;
  private headWritten = false;
  private head = '';
  private held: Buffer | undefined;
  private chunked = false;
  private bodiless = false;
  private done = false;
  private abortUpstream: ((reason: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;

  constructor(
    private readonly host: FastLaneHost,
    private readonly connection: FastConnection,
    private readonly request: FastRequest,
  ) {
    this.started = host.now();
  }

  start(): void {
    const { host, request } = this;
    const table = host.currentTable();
    this.table = table;
    const headers =
      table.affinity !== undefined || table.matches.length > 0
        ? headersObject(request.upstreamHeaders)
        : NO_HEADERS;
    const decision = host.decideFor(table, headers, request.url);
    if (decision === undefined) {
      this.answerText(500, 'vireo router: routing failed\n', 'primary');
      return;
    }
    this.decision = decision;
    const arm = decision.arm;
    this.replicas = (arm === 'canary' ? table.canary : table.primary).order();
    if (this.replicas.length === 0) {
      const { namespace, service } = table.route;
      this.answerText(503, `vireo router: no ${arm} replica for ${namespace}/${service}\n`, arm);
      return;
    }
    if (decision.mirror) host.mirror(table, request.method, request.url, request.upstreamHeaders);
    this.dispatch();
  }

  private dispatch(): void {
    const target = this.replicas[this.index]!;
    this.host.dispatcher.dispatch(
      {
        origin: target.origin,
        path: this.request.url,
        method: this.request.method,
        headers: this.request.upstreamHeaders,
        body: null,
      },
      this,
    );
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.done) {
      abort(new Error('the client left'));
      return;
    }
    this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (statusCode < 200) return true; // 1xx: not relayed (docs/local/router.md "Limits")
    if (this.done) return false;
    this.resumeUpstream = resume;
    this.status = statusCode;
    this.bodiless = this.request.method === 'HEAD' || statusCode === 204 || statusCode === 304;
    let head = `HTTP/1.1 ${statusCode} ${statusText}\r\n`;
    let named: string[] | undefined;
    let hasLength = false;
    let hasDate = false;
    for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
      const name = rawHeaders[i]!.toString('latin1').toLowerCase();
      const value = rawHeaders[i + 1]!.toString('latin1');
      if (name === 'connection') {
        if (!ONLY_HOP_BY_HOP_TOKEN.test(value)) named = (named ?? []).concat(connectionTokens(value));
        continue;
      }
      if (HOP_BY_HOP.has(name)) continue;
      if (named !== undefined && named.includes(name)) continue;
      if (name === 'content-length') hasLength = true;
      else if (name === 'date') hasDate = true;
      head += `${name}: ${value}\r\n`;
    }
    if (named !== undefined) {
      head = withoutNamed(head, named);
      // Dropped wherever the Connection line came: the answer is framed and dated here then.
      if (named.includes('content-length')) hasLength = false;
      if (named.includes('date')) hasDate = false;
    }
    if (!hasDate) head += `date: ${httpDate()}\r\n`;
    head += `${this.host.backendHeader}: ${this.decision.arm}\r\n`;
    for (const cookie of this.decision.setCookies) head += `set-cookie: ${cookie}\r\n`;
    if (!this.bodiless && !hasLength) {
      this.chunked = true;
      head += 'transfer-encoding: chunked\r\n';
    }
    head += this.closeAfter()
      ? 'connection: close\r\n\r\n'
      : 'connection: keep-alive\r\nkeep-alive: timeout=5\r\n\r\n';
    this.head = head;
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.done) return false;
    if (this.bodiless) return true;
    if (!this.headWritten && this.held === undefined) {
      // Held until the end of this read: when the whole answer came in it (the usual small answer),
      // onComplete sends head and body in one write.
      this.held = chunk;
      queueMicrotask(() => this.releaseHeld());
      return true;
    }
    this.releaseHeld();
    if (this.writeBody(chunk)) return true;
    if (this.resumeUpstream !== undefined) this.connection.socket.once('drain', this.resumeUpstream);
    return false;
  }

  onComplete(): void {
    if (this.done) return;
    this.abortUpstream = undefined;
    const socket = this.connection.socket;
    const held = this.held;
    this.held = undefined;
    let out = this.headWritten ? '' : this.head;
    this.headWritten = true;
    if (held !== undefined && held.length <= ONE_WRITE_LIMIT_BYTES) {
      // latin1 maps bytes to characters one to one: the body goes out unchanged, in the head's write.
      out += this.chunked
        ? `${held.length.toString(16)}\r\n${held.toString('latin1')}\r\n`
        : held.toString('latin1');
    } else if (held !== undefined) {
      if (out !== '') socket.write(out, 'latin1');
      out = '';
      this.writeBody(held);
    }
    if (this.chunked) out += '0\r\n\r\n';
    if (out !== '') socket.write(out, 'latin1');
    this.finish();
  }

  onError(error: NodeJS.ErrnoException): void {
    this.abortUpstream = undefined;
    if (this.done) return;
    if (this.headWritten || this.held !== undefined) {
      // The upstream hung up mid-answer: the client's answer is cut short too.
      this.status = 502;
      this.held = undefined;
      this.connection.socket.destroy();
      this.finish();
      return;
    }
    const code = error.code ?? error.message;
    if (CONNECT_FAILURES.has(code) && this.index + 1 < this.replicas.length) {
      this.index += 1;
      this.resetAnswer();
      this.dispatch();
      return;
    }
    if (!this.retried && STALE_SOCKET.has(code) && IDEMPOTENT_METHODS.has(this.request.method)) {
      // The upstream closed a pooled connection as we reused it, before answering.
      this.retried = true;
      this.resetAnswer();
      this.dispatch();
      return;
    }
    const target = this.replicas[this.index]!;
    this.answerText(
      502,
      `vireo router: ${this.decision.arm} replica ${target.host} failed: ${code}\n`,
      this.decision.arm,
    );
  }

  /** The client's connection closed before the answer was written. */
  clientLeft(): void {
    if (this.done) return;
    this.done = true;
    this.abortUpstream?.(new Error('client left'));
    this.abortUpstream = undefined;
    this.host.record(this.table, this.decision?.arm ?? 'primary', undefined, this.started);
  }

  private resetAnswer(): void {
    this.head = '';
    this.status = undefined;
    this.chunked = false;
  }

  private releaseHeld(): void {
    const held = this.held;
    if (held === undefined) return;
    this.held = undefined;
    if (this.done) return;
    if (!this.headWritten) {
      this.headWritten = true;
      this.connection.socket.write(this.head, 'latin1');
    }
    this.writeBody(held);
  }

  private writeBody(chunk: Buffer): boolean {
    const socket = this.connection.socket;
    // A copy: the upstream client's next read reuses the chunk's bytes (upstream-client.ts,
    // onData), and a socket write may hold its buffer until the client takes it.
    const bytes = Buffer.from(chunk);
    if (!this.chunked) return socket.write(bytes);
    socket.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    socket.write(bytes);
    return socket.write('\r\n', 'latin1');
  }

  /** Answers from the router itself (500, 502, 503). */
  private answerText(status: number, text: string, arm: Arm): void {
    this.status = status;
    const head =
      `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? ''}\r\n` +
      `content-type: text/plain; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\n` +
      `date: ${httpDate()}\r\n${this.host.backendHeader}: ${arm}\r\n` +
      (this.closeAfter()
        ? 'connection: close\r\n\r\n'
        : 'connection: keep-alive\r\nkeep-alive: timeout=5\r\n\r\n');
    this.headWritten = true;
    this.connection.socket.write(this.request.method === 'HEAD' ? head : head + text);
    this.finish();
  }

  private closeAfter(): boolean {
    return this.request.closeAfter || this.host.isClosing();
  }

  private finish(): void {
    this.done = true;
    this.host.record(this.table, this.decision?.arm ?? 'primary', this.status, this.started);
    this.connection.answered(this, this.closeAfter());
  }
}

const STATUS_TEXT: Record<number, string> = {
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
};

/** Drops header lines whose names the upstream's Connection header listed. */
function withoutNamed(head: string, named: readonly string[]): string {
  const lines = head.split('\r\n');
  return lines
    .filter((line, i) => i === 0 || line === '' || !named.includes(line.slice(0, line.indexOf(':'))))
    .join('\r\n');
}

/** `keep-alive, X-Trace` → ['keep-alive', 'x-trace']. */

let cachedDate = '';
let cachedDateSecond = -1;

/** The Date header's value, recomputed at most once a second (as node:http does). */
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== cachedDateSecond) {
    cachedDateSecond = second;
    cachedDate = new Date(second * 1000).toUTCString();
  }
  return cachedDate;
}

const ignore = (): void => undefined;
