/**
 * The program table (docs/loadtester.md, "The program table"): the only external programs the
 * loadtester runs without --allow-any-command, each with the argument grammar it accepts. A
 * command is read against the grammar and then written out again by us, in one canonical spelling,
 * so the program never sees an argument we did not understand. URLs and addresses must be allowed
 * targets; no value can name a file, a proxy, a configuration or an API server.
 */
import { isIP } from 'node:net';
import { CommandNotAllowedError, InvalidTaskError } from './errors.js';
import {
  displayValue,
  parseArguments,
  quoteForDisplay,
  type OptionShape,
  type OptionStyle,
  type ParsedArguments,
} from './argument-shapes.js';

/** A server an external program will connect to; checked against the targets before it starts. */
export interface ProgramTarget {
  readonly host: string;
  readonly port: number;
  readonly what: string;
}

export interface ProcessPlan {
  readonly kind: 'process';
  readonly argv: readonly string[];
  /** The command for logs, credentials hidden. */
  readonly display: string;
  readonly targets: readonly ProgramTarget[];
}

const STRICT_URL =
  /^(https?):\/\/(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?)(?::(\d{1,5}))?([/?][A-Za-z0-9\-._~!$&'()*+,;=:@%/?]*)?$/;

/**
 * A URL in the one spelling every program reads the same way: http or https, a host name or IP
 * address, an optional port, a path and query without spaces, braces, brackets, backslashes or
 * fragments (curl would expand `{…}` and `[…]` as globs), and no `user:password@`.
 */
export function parseTargetUrl(text: string, field: string): URL {
  const match = STRICT_URL.exec(text);
  if (match === null) {
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(text)?.[1]?.toLowerCase();
    if (scheme !== undefined && scheme !== 'http' && scheme !== 'https') {
      throw new CommandNotAllowedError(`${field}: the ${scheme} scheme is not allowed (only http and https)`);
    }
    if (/^https?:\/\/[^/?#]*@/i.test(text)) {
      throw new InvalidTaskError(
        `${field}: credentials in a URL are not accepted; send them as an option (curl -u, hey -a) or a header`,
      );
    }
    throw new InvalidTaskError(
      `${field} must be a plain http(s) URL such as http://podinfo-canary.test:9898/ (no spaces, braces, brackets, backslashes or #)`,
    );
  }
  const url = new URL(text);
  const port = match[3] === undefined ? undefined : Number(match[3]);
  if (port !== undefined && (port < 1 || port > 65_535))
    throw new InvalidTaskError(`${field}: port ${port} is out of range`);
  return url;
}

function urlPort(url: URL): number {
  if (url.port !== '') return Number(url.port);
  return url.protocol === 'https:' ? 443 : 80;
}

function urlTarget(url: URL, what: string): ProgramTarget {
  return { host: url.hostname.replace(/^\[|\]$/g, ''), port: urlPort(url), what };
}

function addressTarget(address: string, what: string): ProgramTarget {
  const colon = address.lastIndexOf(':');
  const host = address.slice(0, colon).replace(/^\[|\]$/g, '');
  const port = Number(address.slice(colon + 1));
  if (port < 1 || port > 65_535) throw new InvalidTaskError(`${what} ${address}: port out of range`);
  if (isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(host)) {
    throw new InvalidTaskError(`${what} must be HOST:PORT`);
  }
  return { host, port, what };
}

/** One program in the table. */
interface ProgramEntry {
  /** The program and its subcommand words, as in --allow-command ("helm test"). */
  readonly words: readonly string[];
  readonly style: OptionStyle;
  readonly options: readonly OptionShape[];
  /** Reasons for options people are likely to try, by name. */
  readonly why?: Readonly<Record<string, string>>;
  /** Checks the positionals and returns the targets. */
  readonly positionals: (positionals: readonly string[]) => ProgramTarget[];
  /** Arguments we always add (for example hey's -disable-redirects), after the options. */
  readonly forced?: readonly string[];
}

const READS_FILE = 'it reads a local file';
const WRITES_FILE = 'it writes a local file';
const OTHER_SERVER = 'it sends the request, or credentials, to another server than the target';

const KUBE_SERVER_OPTIONS = Object.fromEntries(
  [
    'server',
    's',
    'kubeconfig',
    'context',
    'cluster',
    'user',
    'token',
    'as',
    'as-group',
    'insecure-skip-tls-verify',
    'certificate-authority',
    'client-certificate',
    'client-key',
    'tls-server-name',
    'username',
    'password',
    'kube-apiserver',
    'kube-token',
    'kube-context',
    'kube-ca-file',
    'kube-insecure-skip-tls-verify',
    'kube-tls-server-name',
    'kube-as-user',
    'kube-as-group',
    'registry-config',
    'repository-config',
    'repository-cache',
    'filename',
    'f',
    'kustomize',
    'k',
  ].map((name) => [
    name,
    `${OTHER_SERVER} or reads local files (Kubernetes credentials stay the loadtester's own)`,
  ]),
);

function oneUrl(program: string) {
  return (positionals: readonly string[]): ProgramTarget[] => {
    if (positionals.length !== 1) {
      throw new InvalidTaskError(
        `${program} needs exactly one URL, after its options (got ${positionals.length} arguments that are not options)`,
      );
    }
    return [urlTarget(parseTargetUrl(positionals[0]!, `${program} URL`), `${program} URL`)];
  };
}

export const PROGRAM_TABLE: readonly ProgramEntry[] = [
  {
    words: ['hey'],
    style: 'go',
    options: [
      { names: ['n'], kind: 'int' },
      { names: ['c'], kind: 'int' },
      { names: ['q'], kind: 'number' },
      { names: ['z'], kind: 'duration' },
      { names: ['t'], kind: 'int' },
      { names: ['o'], kind: 'csv' },
      { names: ['m'], kind: 'method' },
      { names: ['H'], kind: 'header', repeatable: true },
      { names: ['A'], kind: 'line' },
      { names: ['T'], kind: 'line' },
      { names: ['d'], kind: 'text' },
      { names: ['a'], kind: 'userpass', secret: true },
      { names: ['host'], kind: 'hostname' },
      { names: ['h2'], kind: 'boolean' },
      { names: ['disable-compression'], kind: 'boolean' },
      { names: ['disable-keepalive'], kind: 'boolean' },
      { names: ['disable-redirects'], kind: 'boolean' },
      { names: ['cpus'], kind: 'int' },
    ],
    why: { D: READS_FILE, x: OTHER_SERVER },
    positionals: oneUrl('hey'),
    // A redirect could lead a load test (with its body and headers) to a server that is not a target.
    forced: ['-disable-redirects'],
  },
  {
    words: ['wrk'],
    style: 'gnu',
    options: [
      { names: ['connections', 'c'], kind: 'int' },
      { names: ['duration', 'd'], kind: 'duration' },
      { names: ['threads', 't'], kind: 'int' },
      { names: ['header', 'H'], kind: 'header', repeatable: true },
      { names: ['latency', 'L'], kind: 'flag' },
      { names: ['timeout', 'T'], kind: 'duration' },
    ],
    why: { script: 'it runs a Lua script', s: 'it runs a Lua script' },
    positionals: oneUrl('wrk'),
  },
  {
    words: ['ghz'],
    style: 'gnu',
    options: [
      { names: ['insecure'], kind: 'flag' },
      { names: ['skipTLS'], kind: 'flag' },
      { names: ['call'], kind: 'grpc-method' },
      { names: ['total', 'n'], kind: 'int' },
      { names: ['concurrency', 'c'], kind: 'int' },
      { names: ['connections'], kind: 'int' },
      { names: ['duration', 'z'], kind: 'duration' },
      { names: ['rps', 'q'], kind: 'int' },
      { names: ['timeout', 't'], kind: 'duration' },
      { names: ['data', 'd'], kind: 'json' },
      { names: ['metadata', 'm'], kind: 'json' },
      { names: ['authority'], kind: 'hostname' },
    ],
    why: {
      proto: `${READS_FILE} (ghz uses server reflection here)`,
      protoset: `${READS_FILE} (ghz uses server reflection here)`,
      'import-paths': READS_FILE,
      config: READS_FILE,
      'data-file': READS_FILE,
      D: READS_FILE,
      'binary-file': READS_FILE,
      B: READS_FILE,
      'metadata-file': READS_FILE,
      output: WRITES_FILE,
      o: WRITES_FILE,
      cpuprofile: WRITES_FILE,
      memprofile: WRITES_FILE,
      cacert: READS_FILE,
      cert: READS_FILE,
      key: READS_FILE,
    },
    positionals: (positionals) => {
      if (positionals.length !== 1) throw new InvalidTaskError('ghz needs exactly one HOST:PORT');
      if (!/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(positionals[0]!)) {
        throw new InvalidTaskError('ghz needs exactly one HOST:PORT');
      }
      return [addressTarget(positionals[0]!, 'ghz address')];
    },
  },
  {
    words: ['grpc_health_probe'],
    style: 'go',
    options: [
      { names: ['addr'], kind: 'address' },
      { names: ['service'], kind: 'line' },
      { names: ['connect-timeout'], kind: 'duration' },
      { names: ['rpc-timeout'], kind: 'duration' },
      { names: ['tls'], kind: 'boolean' },
      { names: ['tls-no-verify'], kind: 'boolean' },
      { names: ['tls-server-name'], kind: 'hostname' },
      { names: ['rpc-header'], kind: 'header', repeatable: true },
      { names: ['user-agent'], kind: 'line' },
      { names: ['gzip'], kind: 'boolean' },
    ],
    why: {
      'tls-ca-cert': READS_FILE,
      'tls-client-cert': READS_FILE,
      'tls-client-key': READS_FILE,
      spiffe: READS_FILE,
    },
    positionals: (positionals) => {
      if (positionals.length > 0)
        throw new InvalidTaskError('grpc_health_probe takes no arguments besides options');
      return [];
    },
  },
  ...(['helm', 'helmv3'] as const).map((helm): ProgramEntry => ({
    words: [helm, 'test'],
    style: 'gnu',
    options: [
      { names: ['namespace', 'n'], kind: 'name' },
      { names: ['timeout'], kind: 'duration' },
      { names: ['logs'], kind: 'flag' },
    ],
    why: KUBE_SERVER_OPTIONS,
    positionals: (positionals) => {
      if (positionals.length !== 1 || !/^[a-z0-9]([-a-z0-9]{0,51}[a-z0-9])?$/.test(positionals[0]!)) {
        throw new InvalidTaskError(`${helm} test needs exactly one release name`);
      }
      return [];
    },
  })),
  {
    words: ['kubectl', 'rollout', 'status'],
    style: 'gnu',
    options: [
      { names: ['namespace', 'n'], kind: 'name' },
      { names: ['timeout'], kind: 'duration' },
      { names: ['watch', 'w'], kind: 'boolean' },
      { names: ['revision'], kind: 'int' },
    ],
    why: KUBE_SERVER_OPTIONS,
    positionals: (positionals) => {
      const kinds = /^(deployments?|deploy|daemonsets?|ds|statefulsets?|sts)(\.apps)?$/;
      const name = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
      const [first = '', second] = positionals;
      const slash = first.indexOf('/');
      const valid =
        positionals.length === 1
          ? slash > 0 && kinds.test(first.slice(0, slash)) && name.test(first.slice(slash + 1))
          : positionals.length === 2 && kinds.test(first) && name.test(second ?? '');
      if (!valid) {
        throw new InvalidTaskError(
          'kubectl rollout status needs one deployment, daemonset or statefulset, such as deploy/podinfo',
        );
      }
      return [];
    },
  },
];

/** The --allow-command entries the table knows ("hey", "helm test", …). */
export const TABLE_ENTRIES: readonly string[] = PROGRAM_TABLE.map((entry) => entry.words.join(' '));

export function findEntry(allowed: string): ProgramEntry | undefined {
  return PROGRAM_TABLE.find((entry) => entry.words.join(' ') === allowed);
}

/** The table entry whose words start `argv` (by the program's basename), if any. */
export function entryFor(argv: readonly string[]): ProgramEntry | undefined {
  return PROGRAM_TABLE.find((entry) => entry.words.every((word, index) => argv[index] === word));
}

function canonicalArgument(style: OptionStyle, shape: OptionShape, value?: string): string[] {
  const [long] = shape.names;
  const name = style === 'go' ? `-${long}` : long!.length === 1 ? `-${long}` : `--${long}`;
  if (value === undefined) return [name];
  if (style === 'gnu' && long!.length === 1) return [name, value];
  return [`${name}=${value}`];
}

/**
 * Plans an external program: `argv[0]` must be a program name (not a path) and `argv` must start
 * with an allowed table entry; the rest must fit that entry's grammar.
 */
export function planProgram(argv: readonly string[], allowed: readonly string[]): ProcessPlan {
  const entry = entryFor(argv);
  const allowedEntries = allowed.map(findEntry).filter((found): found is ProgramEntry => found !== undefined);
  if (entry === undefined || !allowed.includes(entry.words.join(' '))) {
    const program = argv[0] ?? '';
    const listedWithSubcommand = allowedEntries.some((candidate) => candidate.words[0] === program);
    const refused =
      entry !== undefined
        ? entry.words.join(' ')
        : listedWithSubcommand && argv[1] !== undefined
          ? `${program} ${argv[1]}`
          : program;
    throw new CommandNotAllowedError(
      `"${refused.length > 60 ? `${refused.slice(0, 60)}…` : refused}" is not allowed; allowed: ${allowed.length === 0 ? 'nothing' : allowed.join(', ')}${
        entry === undefined
          ? ' (the program table is in docs/loadtester.md)'
          : ' (extend with --allow-command)'
      }`,
    );
  }
  const args = argv.slice(entry.words.length);
  const program = entry.words.join(' ');
  const parsed: ParsedArguments = parseArguments(program, args, entry.options, entry.style, entry.why);
  const targets = entry.positionals(parsed.positionals);
  for (const option of parsed.options) {
    if (option.shape.kind === 'address')
      targets.push(addressTarget(option.value!, `${program} ${option.written}`));
  }
  const optionArgs: string[] = [];
  const shown: string[] = [...entry.words];
  for (const option of parsed.options) {
    optionArgs.push(...canonicalArgument(entry.style, option.shape, option.value));
    shown.push(
      ...canonicalArgument(
        entry.style,
        option.shape,
        option.value === undefined ? undefined : displayValue(option),
      ),
    );
  }
  const forced = entry.forced ?? [];
  const result = [...entry.words, ...optionArgs, ...forced, ...parsed.positionals];
  shown.push(...forced, ...parsed.positionals);
  return { kind: 'process', argv: result, display: shown.map(quoteForDisplay).join(' '), targets };
}
