/**
 * `curl` in a hook is understood, not run (docs/loadtester.md, "curl"): a command such as
 * `curl -sSf -d test http://podinfo-canary.test:9898/token` is read against a small grammar and
 * becomes an acceptance test sent by the loadtester's own HTTP client. curl itself can read and
 * send files, follow redirects to any scheme, expand URL globs and speak a dozen protocols; none of
 * that is reachable this way. `curl … | grep WORD`, Flagger's usual acceptance test, becomes a check
 * that the answer contains WORD.
 */
import { InvalidTaskError, ShellSyntaxError } from './errors.js';
import { displayValue, parseArguments, quoteForDisplay, type OptionShape } from './argument-shapes.js';
import { parseCommandLine } from './command-line.js';
import type { HttpCheckResult, HttpCheckSpec } from './http-check.js';
import { checkHeader } from './http-check.js';
import { parseTargetUrl } from './programs.js';

export interface HttpPlan {
  readonly kind: 'http';
  readonly spec: HttpCheckSpec;
  /** What the hook's output is (curl prints the body; with grep, the matching lines). */
  readonly render: (result: HttpCheckResult) => string;
  readonly display: string;
}

const WRITE_OUT_VARIABLES = new Set([
  'http_code',
  'response_code',
  'content_type',
  'size_download',
  'url_effective',
]);

const CURL_OPTIONS: readonly OptionShape[] = [
  { names: ['silent', 's'], kind: 'flag' },
  { names: ['show-error', 'S'], kind: 'flag' },
  { names: ['fail', 'f'], kind: 'flag' },
  { names: ['fail-with-body'], kind: 'flag' },
  { names: ['include', 'i'], kind: 'flag' },
  { names: ['insecure', 'k'], kind: 'flag' },
  { names: ['head', 'I'], kind: 'flag' },
  { names: ['get', 'G'], kind: 'flag' },
  { names: ['compressed'], kind: 'flag' },
  { names: ['http1.1'], kind: 'flag' },
  { names: ['disable', 'q'], kind: 'flag' },
  { names: ['request', 'X'], kind: 'method' },
  { names: ['header', 'H'], kind: 'header', repeatable: true },
  { names: ['data', 'd'], kind: 'text', repeatable: true },
  { names: ['data-ascii'], kind: 'text', repeatable: true },
  { names: ['data-binary'], kind: 'text', repeatable: true },
  { names: ['data-raw'], kind: 'text', repeatable: true },
  { names: ['json'], kind: 'text', repeatable: true },
  { names: ['user-agent', 'A'], kind: 'line' },
  { names: ['referer', 'e'], kind: 'line' },
  { names: ['cookie', 'b'], kind: 'line', secret: true },
  { names: ['user', 'u'], kind: 'userpass', secret: true },
  { names: ['oauth2-bearer'], kind: 'line', secret: true },
  { names: ['max-time', 'm'], kind: 'number' },
  { names: ['connect-timeout'], kind: 'number' },
  { names: ['output', 'o'], kind: 'line' },
  { names: ['write-out', 'w'], kind: 'line' },
];

const READS_FILE = 'curl would read a local file';
const WRITES_FILE = 'curl would write a local file';
const WHY: Record<string, string> = {
  F: `${READS_FILE} for a form field; send the body inline with -d`,
  form: `${READS_FILE} for a form field; send the body inline with -d`,
  T: READS_FILE,
  'upload-file': READS_FILE,
  K: READS_FILE,
  config: READS_FILE,
  'data-urlencode': `${READS_FILE} for name@file; encode the value yourself and use -d`,
  'url-query': `${READS_FILE} for name@file`,
  'etag-compare': READS_FILE,
  'etag-save': WRITES_FILE,
  O: WRITES_FILE,
  'remote-name': WRITES_FILE,
  'output-dir': WRITES_FILE,
  D: WRITES_FILE,
  'dump-header': WRITES_FILE,
  c: WRITES_FILE,
  'cookie-jar': WRITES_FILE,
  trace: WRITES_FILE,
  'trace-ascii': WRITES_FILE,
  L: 'the loadtester never follows redirects (a redirect could lead to another server or scheme); point the hook at the final URL',
  location: 'the loadtester never follows redirects; point the hook at the final URL',
  'proto-default': 'only http and https URLs are accepted',
  proto: 'only http and https URLs are accepted',
  'proto-redir': 'the loadtester never follows redirects',
  'unix-socket': 'it connects to a local socket instead of the target',
  'abstract-unix-socket': 'it connects to a local socket instead of the target',
  x: 'it sends the request to a proxy instead of the target',
  proxy: 'it sends the request to a proxy instead of the target',
  'connect-to': 'it sends the request to another server than the URL names',
  resolve: 'it sends the request to another server than the URL names',
  url: 'give the URL as the last argument',
  g: 'URLs are never expanded as globs here',
  globoff: 'URLs are never expanded as globs here',
};

const DEFAULT_TIMEOUT_MS = 30_000;

function curlData(value: string, written: string): string {
  if (value.startsWith('@')) {
    throw new InvalidTaskError(
      `curl option ${written} @… reads a local file, which the loadtester does not do: give the body inline (or use --data-raw)`,
    );
  }
  return value;
}

/** Reads curl's arguments (after "curl") into a request. */
function planCurlArguments(args: readonly string[], expectBody: string | undefined): HttpPlan {
  const parsed = parseArguments('curl', args, CURL_OPTIONS, 'gnu', WHY);
  if (parsed.positionals.length !== 1) {
    throw new InvalidTaskError(
      `curl needs exactly one URL (got ${parsed.positionals.length} arguments that are not options)`,
    );
  }
  const url = parseTargetUrl(parsed.positionals[0]!, 'curl URL');
  const has = (name: string): boolean => parsed.options.some((option) => option.shape.names[0] === name);
  const values = (name: string): string[] =>
    parsed.options.filter((option) => option.shape.names[0] === name).map((option) => option.value!);
  const first = (name: string): string | undefined => values(name)[0];

  const headers: Record<string, string> = {};
  let hostHeader: string | undefined;
  const data: string[] = [];
  let json = false;
  let formEncoded = false;
  for (const option of parsed.options) {
    const name = option.shape.names[0]!;
    if (name === 'header') {
      const value = option.value!;
      const colon = value.indexOf(':');
      const headerName = value.slice(0, colon).trim();
      const headerValue = value.slice(colon + 1).trim();
      if (headerName.toLowerCase() === 'host') {
        hostHeader = headerValue;
        continue;
      }
      checkHeader(headerName, headerValue, 'curl -H');
      headers[headerName] = headerValue;
    } else if (name === 'data' || name === 'data-ascii' || name === 'data-binary') {
      data.push(curlData(option.value!, option.written));
      formEncoded = true;
    } else if (name === 'data-raw') {
      data.push(option.value!);
      formEncoded = true;
    } else if (name === 'json') {
      data.push(curlData(option.value!, option.written));
      json = true;
    }
  }
  const lower = new Set(Object.keys(headers).map((name) => name.toLowerCase()));
  const setDefault = (name: string, value: string): void => {
    if (!lower.has(name.toLowerCase())) headers[name] = value;
  };
  if (json) {
    setDefault('Content-Type', 'application/json');
    setDefault('Accept', 'application/json');
  } else if (formEncoded) setDefault('Content-Type', 'application/x-www-form-urlencoded');
  const userAgent = first('user-agent');
  setDefault('User-Agent', userAgent ?? 'curl/8 (vireo loadtester)');
  const referer = first('referer');
  if (referer !== undefined) setDefault('Referer', referer);
  const cookie = first('cookie');
  if (cookie !== undefined) {
    if (!cookie.includes('=')) {
      throw new InvalidTaskError(
        'curl option -b must be cookies written name=value (a file name is not read)',
      );
    }
    setDefault('Cookie', cookie);
  }
  const user = first('user');
  if (user !== undefined) setDefault('Authorization', `Basic ${Buffer.from(user).toString('base64')}`);
  const bearer = first('oauth2-bearer');
  if (bearer !== undefined) setDefault('Authorization', `Bearer ${bearer}`);

  const output = first('output');
  if (output !== undefined && output !== '/dev/null') {
    throw new InvalidTaskError('curl option -o accepts only /dev/null here (the loadtester writes no files)');
  }
  const writeOut = first('write-out');
  if (writeOut !== undefined) {
    for (const variable of writeOut.matchAll(/%\{([^}]*)\}|%([a-z]+)\{/g)) {
      if (variable[1] === undefined || !WRITE_OUT_VARIABLES.has(variable[1])) {
        throw new InvalidTaskError(
          `curl option -w may use only ${[...WRITE_OUT_VARIABLES].map((name) => `%{${name}}`).join(', ')}`,
        );
      }
    }
    if (writeOut.startsWith('@')) throw new InvalidTaskError('curl option -w @file reads a local file');
  }

  let method = has('head') ? 'HEAD' : data.length > 0 ? 'POST' : 'GET';
  let body: string | undefined = data.length > 0 ? data.join(json ? '' : '&') : undefined;
  if (has('get') && body !== undefined) {
    url.search = url.search === '' ? `?${body}` : `${url.search}&${body}`;
    body = undefined;
    method = has('head') ? 'HEAD' : 'GET';
  }
  const requested = first('request');
  if (requested !== undefined) method = requested.toUpperCase();
  if (body !== undefined && (method === 'GET' || method === 'HEAD')) {
    throw new InvalidTaskError(`curl sends no body with ${method} here; drop -X ${method} or -d`);
  }
  const seconds = Math.min(
    ...[first('max-time'), first('connect-timeout')].filter((value) => value !== undefined).map(Number),
  );
  const timeoutMs = Number.isFinite(seconds) && seconds > 0 ? Math.round(seconds * 1000) : DEFAULT_TIMEOUT_MS;
  const fail = has('fail') || has('fail-with-body');

  const spec: HttpCheckSpec = {
    url,
    method,
    headers,
    ...(hostHeader === undefined ? {} : { hostHeader }),
    ...(body === undefined ? {} : { body }),
    insecure: has('insecure'),
    ...(fail
      ? { expectStatus: (status: number) => status < 400, expectStatusText: 'below 400 (curl -f)' }
      : {}),
    ...(expectBody === undefined ? {} : { expectBody }),
    timeoutMs,
  };
  const includeHeaders = has('include') || method === 'HEAD';
  const render = (result: HttpCheckResult): string => {
    if (result.status === undefined) return '';
    if (expectBody !== undefined) {
      return result.body
        .split('\n')
        .filter((line) => line.includes(expectBody))
        .map((line) => `${line}\n`)
        .join('');
    }
    let text = '';
    if (includeHeaders) {
      text += `HTTP/1.1 ${result.status}\r\n`;
      for (const [name, value] of Object.entries(result.headers)) {
        for (const one of Array.isArray(value) ? value : [value])
          if (one !== undefined) text += `${name}: ${one}\r\n`;
      }
      text += '\r\n';
    }
    const failedStatus = has('fail') && !has('fail-with-body') && result.status >= 400;
    if (output === undefined && method !== 'HEAD' && !failedStatus) text += result.body;
    if (writeOut !== undefined) {
      text += writeOut
        .replace(/%\{(http_code|response_code)\}/g, String(result.status).padStart(3, '0'))
        .replace(/%\{content_type\}/g, String(result.headers['content-type'] ?? ''))
        .replace(/%\{size_download\}/g, String(Buffer.byteLength(result.body)))
        .replace(/%\{url_effective\}/g, url.href)
        .replace(/\\n/g, '\n');
    }
    return text;
  };
  const display = [
    'curl',
    ...parsed.options.flatMap((option) =>
      option.value === undefined ? [option.written] : [option.written, displayValue(option)],
    ),
    url.href,
    ...(expectBody === undefined ? [] : ['|', 'grep', expectBody]),
  ]
    .map(quoteForDisplay)
    .join(' ');
  return { kind: 'http', spec, render, display };
}

const GREP_PIPE = /^(.*)\|\s*grep\s+(?:-q\s+|--quiet\s+)?('[^'|]*'|"[^"|$`\\]*"|[^\s'"|]+)\s*$/s;
const GREP_WORD = /^[A-Za-z0-9_ :,=/-]+$/;

/**
 * `curl …` or `curl … | grep WORD` as an acceptance test, or undefined when `text` is neither (it
 * is then some other command). Throws when it is a curl command outside the grammar.
 */
export function planCurl(text: string): HttpPlan | undefined {
  const pipe = GREP_PIPE.exec(text);
  let commandText = text;
  let expectBody: string | undefined;
  if (pipe !== null) {
    const word = pipe[2]!.replace(/^(['"])(.*)\1$/s, '$2');
    if (!/^\s*curl\s/.test(pipe[1]!)) return undefined;
    if (!GREP_WORD.test(word)) {
      throw new ShellSyntaxError(
        `grep "${word}": only a plain word (letters, digits, spaces, _ : , = / -) is matched after curl; write it without regular-expression characters`,
      );
    }
    commandText = pipe[1]!;
    expectBody = word;
  }
  const argv = parseCommandLine(commandText);
  if (argv[0] !== 'curl') return undefined;
  return planCurlArguments(argv.slice(1), expectBody);
}
