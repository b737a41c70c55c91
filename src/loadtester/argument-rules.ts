/**
 * Options of allow-listed programs that would turn "run a load test" into "read or write any file":
 * `curl -o /some/where` writes a file, `wrk -s script.lua` runs a Lua script (which can run
 * programs), `curl -d @/var/run/secrets/…/token` and `hey -D file` send a file's content away.
 * Chained, they are remote code execution again; so these options are refused by default
 * (`--allow-any-command` lifts every rule). The rules over-refuse rather than under-refuse.
 */
import { basename } from 'node:path';
import { CommandNotAllowedError } from './errors.js';

interface ProgramRules {
  /** Short options (one letter after `-`, clustered getopt-style: `-sSo`) that are refused. */
  readonly deniedShort: string;
  /** Short options whose value may follow in the same cluster (`-HX:1`): scanning stops there. */
  readonly valueShort: string;
  /** Long options refused. */
  readonly deniedLong: readonly string[];
  /** The program accepts unambiguous prefixes of long options (getopt_long): refuse those too. */
  readonly abbreviations?: boolean;
  /** Long options that are prefixes of a denied one but are themselves harmless. */
  readonly allowedLong?: readonly string[];
  /** Go's flag package: `-name` and `--name` are the same flag, never clustered. */
  readonly goFlags?: boolean;
  /** curl reads a file for values written `@file` (`-d @f`, `-H @f`, `--json @f`). */
  readonly atFileValues?: boolean;
  /** Only these URL schemes may appear as arguments. */
  readonly urlSchemes?: readonly string[];
}

const RULES: Readonly<Record<string, ProgramRules>> = {
  curl: {
    deniedShort: 'oODcKT',
    valueShort: 'AbcCdDeEFHKmoPQrtTuUwxXyYz',
    deniedLong: [
      'output',
      'output-dir',
      'remote-name',
      'remote-name-all',
      'dump-header',
      'cookie-jar',
      'trace',
      'trace-ascii',
      'libcurl',
      'stderr',
      'etag-save',
      'hsts',
      'alt-svc',
      'config',
      'upload-file',
    ],
    abbreviations: true,
    allowedLong: ['cookie'],
    atFileValues: true,
    urlSchemes: ['http', 'https'],
  },
  wrk: { deniedShort: 's', valueShort: 'tcdHT', deniedLong: ['script'], abbreviations: true },
  hey: { deniedShort: '', valueShort: '', deniedLong: ['D'], goFlags: true },
  ghz: {
    deniedShort: 'DBo',
    valueShort: '',
    deniedLong: ['config', 'data-file', 'binary-file', 'output', 'cpuprofile', 'memprofile'],
  },
};

function refuse(subject: string, why: string): never {
  throw new CommandNotAllowedError(
    `${subject} is not allowed: it ${why}; start the loadtester with --allow-any-command to allow it`,
  );
}

const READS_OR_WRITES = 'reads or writes local files';
const READS = 'reads a local file';

function checkLong(program: string, rules: ProgramRules, argument: string): void {
  const [name = ''] = argument.replace(/^--?/, '').split('=', 1);
  if (name === '' || rules.allowedLong?.includes(name)) return;
  const denied = rules.abbreviations
    ? rules.deniedLong.some((option) => option.startsWith(name))
    : rules.deniedLong.includes(name);
  if (denied) refuse(`${program} option ${argument.split('=', 1)[0]!}`, READS_OR_WRITES);
  if (!rules.atFileValues || !argument.includes('=')) return;
  const value = argument.slice(argument.indexOf('=') + 1);
  if (value.startsWith('@') || (name === 'form' && /=[@<]/.test(value))) {
    refuse(`${program} option ${argument}`, READS);
  }
}

function checkShortCluster(program: string, rules: ProgramRules, argument: string): void {
  for (let index = 1; index < argument.length; index += 1) {
    const letter = argument[index]!;
    if (rules.deniedShort.includes(letter)) refuse(`${program} option -${letter}`, READS_OR_WRITES);
    if (rules.valueShort.includes(letter)) {
      const attached = argument.slice(index + 1);
      if (rules.atFileValues && (attached.startsWith('@') || (letter === 'F' && /=[@<]/.test(attached)))) {
        refuse(`${program} option ${argument}`, READS);
      }
      return;
    }
  }
}

/** Throws CommandNotAllowedError when argv uses an option that reaches the local file system. */
export function checkArguments(argv: readonly string[]): void {
  const program = basename(argv[0] ?? '');
  const rules = RULES[program];
  if (rules === undefined) return;
  let previous = '';
  for (const argument of argv.slice(1)) {
    if (rules.atFileValues) {
      if (argument.startsWith('@')) refuse(`${program} argument ${argument}`, `${READS} (@file)`);
      // Form fields read files with name=@file or name=<file; --data-urlencode with [name]@file.
      if (/^(-F|--form)$/.test(previous) && /=[@<]/.test(argument)) {
        refuse(`${program} option ${previous} ${argument}`, READS);
      }
      if (previous === '--data-urlencode' && /^[^=]*@/.test(argument)) {
        refuse(`${program} option ${previous} ${argument}`, READS);
      }
    }
    const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(argument)?.[1]?.toLowerCase();
    if (rules.urlSchemes && scheme !== undefined && !rules.urlSchemes.includes(scheme)) {
      refuse(
        `${program} URL ${argument}`,
        `uses the ${scheme} scheme (only ${rules.urlSchemes.join(' and ')})`,
      );
    }
    if (argument.startsWith('--') || (rules.goFlags && argument.startsWith('-'))) {
      checkLong(program, rules, argument);
    } else if (argument.startsWith('-') && argument.length > 1) {
      checkShortCluster(program, rules, argument);
    }
    previous = argument;
  }
}
