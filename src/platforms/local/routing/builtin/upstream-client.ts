/**
 * The fast lane's upstream HTTP/1.1 client (docs/adr/0036-router-upstream-client.md): keep-alive
 * pools of plain `net` sockets per origin, one request at a time per socket, and a strict parser
 * of the answer (RFC 9112). It does only what the fast lane needs (bodiless requests, answers
 * handed to a handler shaped like undici's dispatch handler), at about half of undici's cost per
 * request. Requests with a body, and everything on node:http's path, stay on undici.
 *
 * Strictness rule: an answer that is malformed or ambiguous (a bare LF, obs-fold, conflicting
 * lengths, Transfer-Encoding with Content-Length, a head over the limit) is an error, never a
 * guess, and its connection is discarded, so a doubtful answer can never be read as the answer to
 * the next request on that connection (docs/security.md, built-in router).
 */
import { maxHeaderSize } from 'node:http';
import { connect, type Socket } from 'node:net';
import { VireoError } from '../../../../shared/errors.js';
import { FIELD_LINE } from './fast-lane.js';
import { FIELD_VALUE_CHAR, TOKEN_CHAR } from './hop-by-hop.js';

/** A bodiless request, as the fast lane gives it (fast-lane.ts). */
export interface UpstreamRequest {
  /** `http://host:port`. */
  readonly origin: string;
  /** Origin-form target, e.g. `/api?x=1`. */
  readonly path: string;
  readonly method: string;
  /** [name, value, name, value, …]; a `host` entry is added from the origin when absent. */
  readonly headers: string[];
  readonly body: null;
}

/** The subset of undici's dispatch handler the fast lane implements (FastExchange). */
export interface UpstreamHandler {
  /** Called once the request is under way; `abort` destroys its connection and reports `onError`. */
  onConnect(abort: (reason?: Error) => void): void;
  /**
   * The final answer's head (interim 1xx answers are not reported); names and values alternate,
   * valid during the call only (as onData's chunks).
   */
  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean;
  /**
   * A piece of the decoded body; answering false pauses reading until `resume()` is called. The
   * chunk's bytes may be overwritten by the next read: copy what is kept past the current turn of
   * the event loop (and what is handed to a socket write, which may queue it).
   */
  onData(chunk: Buffer): boolean;
  onComplete(trailers: string[] | null): void;
  onError(error: Error): void;
}

/** What the fast lane needs from an upstream client: undici's Agent and UpstreamClient both fit. */
export interface UpstreamDispatcher {
  dispatch(request: UpstreamRequest, handler: UpstreamHandler): boolean;
}

/** The answer broke HTTP/1.1's rules, or was ambiguous: the fast lane answers 502. */
export class UpstreamProtocolError extends VireoError {
  constructor(message: string) {
    super('E_UPSTREAM_PROTOCOL', message);
  }
}

/** The upstream closed the connection in the middle of an answer. */
export class UpstreamClosedError extends VireoError {
  constructor(message: string, cause?: unknown) {
    super('E_UPSTREAM_CLOSED', message, { cause });
  }
}

/**
 * The upstream closed the connection cleanly before any byte of its answer. It carries net's
 * ECONNRESET code, as a reset would: either way the request was not answered, and the fast lane
 * retries an idempotent one once on a fresh connection (fast-lane.ts, STALE_SOCKET).
 */
export class UpstreamResetError extends Error {
  readonly code = 'ECONNRESET';

  constructor() {
    super('the upstream closed the connection before answering');
    this.name = 'UpstreamResetError';
  }
}

export interface UpstreamClientOptions {
  /** Longest answer head (status line and fields) accepted; default node's, as undici's. */
  readonly maxHeadBytes?: number;
  /** Idle keep-alive sockets kept per origin; more are closed. */
  readonly maxIdlePerOrigin?: number;
  /** How long an idle socket is kept when the upstream gives no `Keep-Alive: timeout=N` hint. */
  readonly defaultKeepAliveMs?: number;
  /** Subtracted from the upstream's hint, so a socket is never reused as the upstream closes it. */
  readonly keepAliveMarginMs?: number;
  readonly now?: () => number;
}

const DEFAULT_MAX_IDLE_PER_ORIGIN = 256;
/** undici's default when the upstream gives no hint. */
const DEFAULT_KEEP_ALIVE_MS = 4_000;
const KEEP_ALIVE_MARGIN_MS = 1_000;
/** How often idle sockets past their time are closed (reuse checks the time itself, exactly). */
const SWEEP_INTERVAL_MS = 1_000;
/** A chunk-size line (size and extensions) or one trailer line longer than this is refused. */
const MAX_CHUNK_LINE_BYTES = 4 * 1024;

const CR = 13;
const LF = 10;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5]\d\d)(?: ([\t\x20-\x7e\x80-\xff]*))?$/;
const TOKEN = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+";
const CHUNK_EXTENSION = `[ \\t]*;[ \\t]*${TOKEN}(?:[ \\t]*=[ \\t]*(?:${TOKEN}|"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x20-\\x7e\\x80-\\xff])*"))?`;
/** chunk-size (at most 12 hex digits: 256 TiB) and optional extensions. */
const CHUNK_SIZE_LINE = new RegExp(`^([0-9A-Fa-f]{1,12})(?:${CHUNK_EXTENSION})*$`);
const CONTENT_LENGTH = /^\d{1,15}$/;
const KEEP_ALIVE_TIMEOUT = /(?:^|[,;\s])timeout\s*=\s*(\d{1,6})(?:$|[,;\s])/i;
/** What may go into a request line or a field: no CR, LF, NUL (fast-lane already checked). */
const UNSAFE_IN_REQUEST = /[\r\n\0]/;
const REQUEST_TARGET = /^[!-~]+$/;

const HEAD_END = Buffer.from('\r\n\r\n');
const CONNECTION = Buffer.from('connection');
const KEEP_ALIVE = Buffer.from('keep-alive');
const CONTENT_LENGTH_NAME = Buffer.from('content-length');
const TRANSFER_ENCODING = Buffer.from('transfer-encoding');
const COLON = 0x3a;
const SP = 0x20;
const HTAB = 0x09;
const CRLF = Buffer.from('\r\n');
/** Bytes one read of an upstream socket can bring (the size node reads at most at once). */
const READ_BUFFER_BYTES = 64 * 1024;

/** How the answer's body ends (RFC 9112 §6.3). */
const enum Framing {
  None,
  Length,
  Chunked,
  Close,
}

/** Where a connection is in reading its answer. */
const enum Phase {
  Head,
  Body,
  ChunkSize,
  ChunkData,
  ChunkDataEnd,
  Trailers,
}

/** One origin's idle sockets (most recent last: reuse is LIFO) and where to connect. */
class OriginPool {
  readonly idle: UpstreamConnection[] = [];
  readonly host: string;
  readonly port: number;
  /** The Host header sent when the request has none. */
  readonly hostHeader: string;

  constructor(readonly origin: string) {
    const url = new URL(origin);
    if (url.protocol !== 'http:') {
      throw new UpstreamProtocolError(
        `the fast lane's upstream client speaks http only, not ${url.protocol}`,
      );
    }
    this.host = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
    this.port = url.port === '' ? 80 : Number(url.port);
    this.hostHeader = url.host;
  }
}

export class UpstreamClient implements UpstreamDispatcher {
  private readonly pools = new Map<string, OriginPool>();
  /** Every open connection, idle or busy (for destroy()). */
  private readonly connections = new Set<UpstreamConnection>();
  readonly maxHeadBytes: number;
  private readonly maxIdlePerOrigin: number;
  private readonly defaultKeepAliveMs: number;
  private readonly keepAliveMarginMs: number;
  readonly now: () => number;
  private sweeper: NodeJS.Timeout | undefined;
  private idleCount = 0;
  private closed = false;
  /**
   * Every socket of this client reads into this one buffer (net's `onread`): no buffer is
   * allocated per read. Its bytes are handled at once, and what must outlive the read is copied
   * (UpstreamConnection.received; the fast lane copies what it writes to its client).
   */
  private readonly readBuffer = Buffer.alloc(READ_BUFFER_BYTES);

  constructor(options: UpstreamClientOptions = {}) {
    this.maxHeadBytes = options.maxHeadBytes ?? maxHeaderSize;
    this.maxIdlePerOrigin = options.maxIdlePerOrigin ?? DEFAULT_MAX_IDLE_PER_ORIGIN;
    this.defaultKeepAliveMs = options.defaultKeepAliveMs ?? DEFAULT_KEEP_ALIVE_MS;
    this.keepAliveMarginMs = options.keepAliveMarginMs ?? KEEP_ALIVE_MARGIN_MS;
    this.now = options.now ?? Date.now;
  }

  dispatch(request: UpstreamRequest, handler: UpstreamHandler): boolean {
    if (this.closed) {
      queueMicrotask(() =>
        handler.onError(new VireoError('E_ROUTER_CLOSED', 'the upstream client is closed')),
      );
      return false;
    }
    let pool = this.pools.get(request.origin);
    let head: string;
    try {
      if (pool === undefined) {
        pool = new OriginPool(request.origin);
        this.pools.set(request.origin, pool);
      }
      head = requestHead(request, pool.hostHeader);
    } catch (error) {
      queueMicrotask(() => handler.onError(error as Error));
      return false;
    }
    let connection: UpstreamConnection | undefined;
    const now = this.now();
    while ((connection = pool.idle.pop()) !== undefined) {
      this.idleCount -= 1;
      if (connection.idleUntil > now && !connection.socket.destroyed) break;
      connection.socket.destroy(); // past the upstream's keep-alive time: it may be closing it
    }
    if (connection === undefined) {
      connection = new UpstreamConnection(this, pool, this.readBuffer);
      this.connections.add(connection);
    }
    connection.start(request.method === 'HEAD', head, handler);
    return true;
  }

  /** Ends idle sockets now; requests in flight finish, and their sockets close after. */
  close(): Promise<void> {
    this.closed = true;
    this.closeIdle(Number.POSITIVE_INFINITY);
    return Promise.resolve();
  }

  /** Ends every socket now; requests in flight fail. */
  destroy(): Promise<void> {
    this.closed = true;
    this.closeIdle(Number.POSITIVE_INFINITY);
    for (const connection of [...this.connections]) {
      connection.fail(new VireoError('E_ROUTER_CLOSED', 'the upstream client was destroyed'));
    }
    return Promise.resolve();
  }

  /** A connection finished its answer: kept for reuse, or closed. */
  released(connection: UpstreamConnection, keepAliveMs: number | undefined): void {
    const pool = connection.pool;
    const idleMs = keepAliveMs === undefined ? this.defaultKeepAliveMs : keepAliveMs - this.keepAliveMarginMs;
    if (this.closed || idleMs <= 0 || pool.idle.length >= this.maxIdlePerOrigin) {
      connection.socket.destroy();
      return;
    }
    connection.idleUntil = this.now() + idleMs;
    pool.idle.push(connection);
    this.idleCount += 1;
    if (this.sweeper === undefined) {
      this.sweeper = setInterval(() => this.closeIdle(this.now()), SWEEP_INTERVAL_MS);
      this.sweeper.unref();
    }
  }

  /** A connection ended (error, abort, close): forgotten wherever it was. */
  forget(connection: UpstreamConnection): void {
    this.connections.delete(connection);
    const idle = connection.pool.idle;
    const index = idle.indexOf(connection);
    if (index !== -1) {
      idle.splice(index, 1);
      this.idleCount -= 1;
      this.stopSweeperIfIdle();
    }
  }

  /** Closes idle sockets whose time ends before `until`. */
  private closeIdle(until: number): void {
    for (const pool of this.pools.values()) {
      const idle = pool.idle;
      let kept = 0;
      for (const connection of idle) {
        if (connection.idleUntil > until) idle[kept++] = connection;
        else connection.socket.destroy();
      }
      this.idleCount -= idle.length - kept;
      idle.length = kept;
    }
    this.stopSweeperIfIdle();
  }

  private stopSweeperIfIdle(): void {
    if (this.idleCount === 0 && this.sweeper !== undefined) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

/** The request's head, checked: no CR, LF or NUL may reach the upstream. */
function requestHead(request: UpstreamRequest, hostHeader: string): string {
  const { method, path, headers } = request;
  if (!/^[A-Z]+$/.test(method) || !REQUEST_TARGET.test(path)) {
    // (The message names no request content: it may end up in a log or a 502's body.)
    throw new UpstreamProtocolError('refusing to send a malformed request line upstream');
  }
  let head = `${method} ${path} HTTP/1.1\r\n`;
  let hasHost = false;
  for (let i = 0; i + 1 < headers.length; i += 2) {
    const name = headers[i]!;
    const value = headers[i + 1]!;
    if (UNSAFE_IN_REQUEST.test(name) || UNSAFE_IN_REQUEST.test(value) || name === '' || name.includes(':')) {
      throw new UpstreamProtocolError('refusing to send a malformed request header upstream');
    }
    if (!hasHost && name.length === 4 && name.toLowerCase() === 'host') hasHost = true;
    head += `${name}: ${value}\r\n`;
  }
  if (!hasHost) head += `host: ${hostHeader}\r\n`;
  return head + '\r\n';
}

/** One upstream socket, and the answer it is reading (at most one request at a time). */
class UpstreamConnection {
  /** Until when an idle socket may be reused (the client's clock). */
  idleUntil = 0;
  private handler: UpstreamHandler | undefined;
  private headRequest = false;
  /** Bytes read and not yet handled. */
  private buffer: Buffer | undefined;
  /** Where the search for a bare LF in the head resumes. */
  private scanned = 0;
  private phase = Phase.Head;
  private framing = Framing.None;
  private remaining = 0;
  private paused = false;
  private processing = false;
  /** Some byte of the current answer has arrived (a close is then no longer a stale socket). */
  private answered = false;
  private reusable = false;
  private keepAliveMs: number | undefined;
  private trailers: string[] | null = null;
  private trailerBytes = 0;
  private readonly onEnd = (): void => this.ended();
  private readonly onClose = (): void => this.closed();
  private readonly onError = (error: Error): void => this.failed(error);
  /** The current request's resume(), given to its handler with the head. */
  private resume: () => void = ignore;
  /** Reads into the client's shared buffer (net's `onread`), handled by received(). */
  readonly socket: Socket;

  constructor(
    private readonly client: UpstreamClient,
    readonly pool: OriginPool,
    readBuffer: Buffer,
  ) {
    const socket = connect({
      host: pool.host,
      port: pool.port,
      noDelay: true,
      onread: {
        buffer: readBuffer,
        callback: (length) => {
          this.received(readBuffer.subarray(0, length));
          return true; // (the connection pauses the socket itself when its handler asks)
        },
      },
    });
    this.socket = socket;
    socket.on('end', this.onEnd);
    socket.on('close', this.onClose);
    socket.on('error', this.onError);
  }

  start(headRequest: boolean, head: string, handler: UpstreamHandler): void {
    this.handler = handler;
    this.headRequest = headRequest;
    this.phase = Phase.Head;
    this.scanned = 0;
    this.answered = false;
    this.reusable = true;
    this.keepAliveMs = undefined;
    this.trailers = null;
    this.trailerBytes = 0;
    // Per request: a handler's late abort() or resume() must never reach the next request on
    // this connection.
    this.resume = () => {
      if (this.handler !== handler || !this.paused) return;
      this.paused = false;
      this.socket.resume();
      this.process();
    };
    handler.onConnect((reason?: Error) => {
      if (this.handler === handler) this.fail(reason ?? new Error('the request was aborted'));
    });
    if (this.handler !== handler) return; // aborted at once
    this.socket.write(head, 'latin1');
  }

  /** Ends the current request with `error` and discards the socket. */
  fail(error: Error): void {
    const handler = this.handler;
    this.handler = undefined;
    this.socket.destroy();
    this.client.forget(this);
    handler?.onError(error);
  }

  /** Bytes read, in the client's shared read buffer: valid until this returns. */
  private received(chunk: Buffer): void {
    if (this.handler === undefined) {
      // Bytes with no request pending: the upstream is out of step; never reuse this socket.
      this.socket.destroy();
      return;
    }
    this.answered = true;
    this.buffer = this.buffer === undefined ? chunk : Buffer.concat([this.buffer, chunk]);
    this.process();
    // What is left (a head or chunk line still arriving, or bytes held while the handler paused)
    // is copied out of the shared read buffer, which the next read overwrites.
    const left = this.buffer;
    if (left !== undefined && left.buffer === chunk.buffer) this.buffer = Buffer.from(left);
  }

  /** Handles buffered bytes until they run out, the answer ends, or the handler pauses. */
  private process(): void {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.buffer !== undefined && this.handler !== undefined && !this.paused) {
        if (!this.step(this.buffer)) break;
      }
    } catch (error) {
      this.fail(error as Error);
    } finally {
      this.processing = false;
    }
  }

  /** Consumes what it can of `buffer`; false when more bytes are needed. */
  private step(buffer: Buffer): boolean {
    switch (this.phase) {
      case Phase.Head:
        return this.readHead(buffer);
      case Phase.Body:
      case Phase.ChunkData:
        return this.readBody(buffer);
      case Phase.ChunkSize:
        return this.readChunkSize(buffer);
      case Phase.ChunkDataEnd:
        return this.readChunkDataEnd(buffer);
      case Phase.Trailers:
        return this.readTrailer(buffer);
    }
  }

  private consume(buffer: Buffer, count: number): void {
    this.buffer = count === buffer.length ? undefined : buffer.subarray(count);
  }

  private readHead(buffer: Buffer): boolean {
    const end = buffer.indexOf(HEAD_END);
    const limit = this.client.maxHeadBytes;
    if (end === -1) {
      // Incomplete: a bare LF is refused at once, not after waiting for a CRLF CRLF that may
      // never come. (A complete head is checked line by line below; no pattern admits an LF.)
      for (let at = buffer.indexOf(LF, this.scanned); at !== -1; at = buffer.indexOf(LF, at + 1)) {
        if (at === 0 || buffer[at - 1] !== CR) {
          throw new UpstreamProtocolError('the answer has a bare LF in its head');
        }
      }
      this.scanned = buffer.length;
      if (buffer.length > limit) throw new UpstreamProtocolError(`the answer's head is over ${limit} bytes`);
      return false;
    }
    if (end + 4 > limit) throw new UpstreamProtocolError(`the answer's head is over ${limit} bytes`);
    this.consume(buffer, end + 4);
    this.scanned = 0;
    const statusEnd = buffer.indexOf(CRLF); // found: the head ends with CRLF CRLF
    const status = STATUS_LINE.exec(buffer.toString('latin1', 0, statusEnd));
    if (status === null) throw new UpstreamProtocolError('the answer has a malformed status line');
    const http10 = status[1] === '0';
    const code = Number(status[2]);
    const rawHeaders: Buffer[] = [];
    let lengths: string | undefined;
    let codings: string | undefined;
    let connection: string | undefined;
    let keepAlive: string | undefined;
    // Field lines, byte by byte: name of token bytes, a colon, optional whitespace, a value of
    // visible bytes, spaces and tabs (no CR, LF or NUL), optional whitespace (RFC 9110 §5.5).
    for (let lineStart = statusEnd + 2; lineStart < end;) {
      let lineEnd = buffer.indexOf(CRLF, lineStart);
      if (lineEnd === -1 || lineEnd > end) lineEnd = end;
      let at = lineStart;
      while (at < lineEnd && TOKEN_CHAR[buffer[at]!] === 1) at += 1;
      if (at === lineStart || at === lineEnd || buffer[at] !== COLON) {
        throw new UpstreamProtocolError(
          buffer[lineStart] === SP || buffer[lineStart] === HTAB
            ? 'the answer folds a header over lines (obs-fold)'
            : 'the answer has a malformed header line',
        );
      }
      const nameEnd = at;
      at += 1;
      while (at < lineEnd && (buffer[at] === SP || buffer[at] === HTAB)) at += 1;
      const valueStart = at;
      let valueEnd = at;
      for (; at < lineEnd; at += 1) {
        const byte = buffer[at]!;
        if (FIELD_VALUE_CHAR[byte] !== 1)
          throw new UpstreamProtocolError('the answer has a malformed header line');
        if (byte !== SP && byte !== HTAB) valueEnd = at + 1;
      }
      rawHeaders.push(buffer.subarray(lineStart, nameEnd), buffer.subarray(valueStart, valueEnd));
      const nameLength = nameEnd - lineStart;
      if (nameLength === 10) {
        if (isName(buffer, lineStart, CONNECTION)) {
          connection = join(connection, latin1(buffer, valueStart, valueEnd));
        } else if (isName(buffer, lineStart, KEEP_ALIVE)) {
          keepAlive = latin1(buffer, valueStart, valueEnd);
        }
      } else if (nameLength === 14 && isName(buffer, lineStart, CONTENT_LENGTH_NAME)) {
        lengths = join(lengths, latin1(buffer, valueStart, valueEnd));
      } else if (nameLength === 17 && isName(buffer, lineStart, TRANSFER_ENCODING)) {
        codings = join(codings, latin1(buffer, valueStart, valueEnd));
      }
      lineStart = lineEnd + 2;
    }
    if (code < 200) {
      if (code === 101) throw new UpstreamProtocolError('the upstream switched protocols (101) unasked');
      return true; // an interim answer (100, 103): the final one follows
    }
    this.frame(code, http10, lengths, codings);
    if (http10 || (connection !== undefined && /close/i.test(connection) && hasToken(connection, 'close'))) {
      this.reusable = false;
    }
    if (keepAlive !== undefined) {
      const timeout = KEEP_ALIVE_TIMEOUT.exec(keepAlive);
      if (timeout !== null) this.keepAliveMs = Number(timeout[1]) * 1000;
    }
    const handler = this.handler!;
    if (!handler.onHeaders(code, rawHeaders, this.resume, status[3] ?? '')) this.pause();
    if (this.framing === Framing.None || (this.framing === Framing.Length && this.remaining === 0)) {
      this.complete();
      return true;
    }
    this.phase = this.framing === Framing.Chunked ? Phase.ChunkSize : Phase.Body;
    return true;
  }

  /** Decides how the body ends, or refuses an answer whose framing is doubtful. */
  private frame(
    code: number,
    http10: boolean,
    lengths: string | undefined,
    codings: string | undefined,
  ): void {
    if (this.headRequest) {
      // Not reused after HEAD (as undici does): a server that wrongly sends the body anyway would
      // have it read as the start of the next request's answer.
      this.framing = Framing.None;
      this.reusable = false;
      return;
    }
    if (code === 204 || code === 304) {
      this.framing = Framing.None;
      return;
    }
    if (codings !== undefined) {
      if (http10) throw new UpstreamProtocolError('an HTTP/1.0 answer has Transfer-Encoding');
      const list = codings.split(',').map((coding) => coding.trim().toLowerCase());
      if (list.some((coding) => coding === '')) {
        throw new UpstreamProtocolError('the answer has an empty transfer coding');
      }
      const chunkedAt = list.indexOf('chunked');
      if (chunkedAt !== -1 && chunkedAt !== list.length - 1) {
        throw new UpstreamProtocolError('the answer applies chunked before another transfer coding');
      }
      // With a Content-Length too, Transfer-Encoding decides, and the socket is not trusted after.
      if (lengths !== undefined) this.reusable = false;
      if (chunkedAt === -1) {
        this.framing = Framing.Close;
        this.reusable = false;
      } else {
        this.framing = Framing.Chunked;
      }
      return;
    }
    if (lengths !== undefined) {
      let length = lengths;
      if (!CONTENT_LENGTH.test(length)) {
        // A list (`5, 5`, or repeated fields) is accepted when every value is the same number.
        const values = lengths.split(',').map((value) => value.trim());
        length = values[0]!;
        if (!CONTENT_LENGTH.test(length) || values.some((value) => value !== length)) {
          throw new UpstreamProtocolError('the answer has an invalid or conflicting Content-Length');
        }
      }
      this.framing = Framing.Length;
      this.remaining = Number(length);
      return;
    }
    this.framing = Framing.Close;
    this.reusable = false;
  }

  /** Body bytes (content-length, close-delimited, or a chunk's data). */
  private readBody(buffer: Buffer): boolean {
    let chunk = buffer;
    if (this.framing !== Framing.Close) {
      if (buffer.length > this.remaining) chunk = buffer.subarray(0, this.remaining);
      this.remaining -= chunk.length;
    }
    this.consume(buffer, chunk.length);
    if (!this.handler!.onData(chunk)) this.pause();
    if (this.remaining === 0 && this.framing !== Framing.Close) {
      if (this.framing === Framing.Length) this.complete();
      else this.phase = Phase.ChunkDataEnd;
    }
    return true;
  }

  private readChunkSize(buffer: Buffer): boolean {
    const line = this.line(buffer, 'chunk size');
    if (line === undefined) return false;
    const size = CHUNK_SIZE_LINE.exec(line);
    if (size === null) throw new UpstreamProtocolError('the answer has a malformed chunk size');
    this.remaining = Number.parseInt(size[1]!, 16);
    this.phase = this.remaining === 0 ? Phase.Trailers : Phase.ChunkData;
    return true;
  }

  private readChunkDataEnd(buffer: Buffer): boolean {
    if (buffer.length < 2) return buffer[0] === CR ? false : this.badChunkEnd();
    if (buffer[0] !== CR || buffer[1] !== LF) return this.badChunkEnd();
    this.consume(buffer, 2);
    this.phase = Phase.ChunkSize;
    return true;
  }

  private badChunkEnd(): never {
    throw new UpstreamProtocolError('a chunk of the answer does not end with CRLF');
  }

  private readTrailer(buffer: Buffer): boolean {
    const line = this.line(buffer, 'trailer');
    if (line === undefined) return false;
    if (line === '') {
      this.complete();
      return true;
    }
    this.trailerBytes += line.length + 2;
    const field = FIELD_LINE.exec(line);
    if (field === null) throw new UpstreamProtocolError('the answer has a malformed trailer line');
    if (this.trailerBytes > this.client.maxHeadBytes)
      throw new UpstreamProtocolError("the answer's trailers are too large");
    (this.trailers ??= []).push(field[1]!, field[2]!);
    return true;
  }

  /** The next CRLF-ended line of `buffer` (consumed), or undefined when it has not all arrived. */
  private line(buffer: Buffer, what: string): string | undefined {
    const end = buffer.indexOf(CRLF);
    if (end === -1) {
      if (buffer.length > MAX_CHUNK_LINE_BYTES)
        throw new UpstreamProtocolError(`the answer's ${what} line is too long`);
      if (buffer.indexOf(LF) !== -1)
        throw new UpstreamProtocolError(`the answer's ${what} line ends with a bare LF`);
      return undefined;
    }
    if (end > MAX_CHUNK_LINE_BYTES) throw new UpstreamProtocolError(`the answer's ${what} line is too long`);
    const line = buffer.toString('latin1', 0, end);
    this.consume(buffer, end + 2);
    return line;
  }

  private pause(): void {
    if (this.paused) return;
    this.paused = true;
    this.socket.pause();
  }

  /** The answer is complete: the socket goes back to the pool if it can be trusted, then the handler hears. */
  private complete(): void {
    const handler = this.handler!;
    this.handler = undefined;
    const trailers = this.trailers;
    this.trailers = null;
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    if (this.reusable && this.buffer === undefined && !this.socket.destroyed) {
      this.client.released(this, this.keepAliveMs);
    } else {
      this.buffer = undefined;
      this.socket.destroy();
      this.client.forget(this);
    }
    handler.onComplete(trailers);
  }

  /** The upstream ended its side: the end of a close-delimited body, else an error. */
  private ended(): void {
    // (A paused socket emits 'end' only once its buffered data was read, and a close-delimited
    // body never leaves bytes in this.buffer: nothing of the answer is left to hand over here.)
    if (this.handler !== undefined && this.phase === Phase.Body && this.framing === Framing.Close) {
      this.complete();
      return;
    }
    this.failed(undefined);
  }

  private closed(): void {
    this.client.forget(this);
    if (this.handler !== undefined) this.failed(undefined);
  }

  private failed(cause: Error | undefined): void {
    if (this.handler === undefined) {
      this.client.forget(this);
      return;
    }
    if (!this.answered) {
      // Nothing of the answer came: for a reused socket, the upstream closed it as we sent (a
      // stale keep-alive socket); the fast lane retries an idempotent request once, on a new one.
      // net's own error (ECONNRESET, EPIPE, ECONNREFUSED, ...) is passed on as it is.
      this.fail(cause ?? new UpstreamResetError());
      return;
    }
    this.fail(
      new UpstreamClosedError('the upstream closed the connection in the middle of its answer', cause),
    );
  }
}

function ignore(): void {
  // (a resume() with no request)
}

/** True when the field name at `start` is `lowercase` in any case (its length was checked). */
function isName(buffer: Buffer, start: number, lowercase: Buffer): boolean {
  for (let i = 0; i < lowercase.length; i += 1) {
    // ASCII letters differ from their capitals by 0x20 only; other tchar bytes must match exactly.
    const byte = buffer[start + i]!;
    const want = lowercase[i]!;
    if (byte !== want && !(want >= 0x61 && want <= 0x7a && byte === want - 0x20)) return false;
  }
  return true;
}

function latin1(buffer: Buffer, start: number, end: number): string {
  return buffer.toString('latin1', start, end);
}

function join(prior: string | undefined, value: string): string {
  return prior === undefined ? value : `${prior}, ${value}`;
}

/** True when the comma-separated list holds `token` (case-insensitive). */
function hasToken(list: string, token: string): boolean {
  return list.split(',').some((item) => item.trim().toLowerCase() === token);
}
