/**
 * The grammar of a command's arguments: each program in the table (docs/loadtester.md, "The
 * program table") lists the options it may be given and the shape each value must have. An
 * argument that is not in the grammar is refused with the option named; nothing is passed on as
 * written. This is a whitelist of shapes, not a denylist of options: a value can only be a number,
 * a duration, a method, a one-line header, an inline text or JSON, a Kubernetes name, or a URL or
 * address that the target policy then checks. None of these can name a file or a server.
 */
import { CommandNotAllowedError, InvalidTaskError } from './errors.js';
import { redactHeader, redactText } from './redact.js';

export type ValueKind =
  | 'flag'
  | 'boolean'
  | 'int'
  | 'number'
  | 'duration'
  | 'method'
  | 'header'
  | 'text'
  | 'line'
  | 'json'
  | 'name'
  | 'hostname'
  | 'userpass'
  | 'csv'
  | 'grpc-method'
  | 'address';

export interface OptionShape {
  /** Long names (without dashes) first, then one-letter names. */
  readonly names: readonly string[];
  readonly kind: ValueKind;
  /** The value is a credential: shown as [redacted] in logs and never in a reason. */
  readonly secret?: boolean;
  readonly repeatable?: boolean;
}

/** How the program reads its options. */
export type OptionStyle =
  /** Go's flag package: `-name value`, `-name=value`, `--name=value`; options stop at the first positional. */
  | 'go'
  /** getopt_long or pflag: `--name=value`, `--name value`, `-x value`, `-xvalue`, `-abc` clusters, anywhere. */
  | 'gnu';

export interface ParsedOption {
  readonly shape: OptionShape;
  /** The name as written, for messages. */
  readonly written: string;
  readonly value?: string;
}

export interface ParsedArguments {
  readonly options: readonly ParsedOption[];
  readonly positionals: readonly string[];
}

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const GO_DURATION = /^(\d+(\.\d+)?(ns|us|µs|ms|s|m|h))+$/;
const HEADER = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+:[^\r\n\0]*$/;
const KUBERNETES_NAME = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;
const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?(:\d{1,5})?$/;

function describeKind(kind: ValueKind): string {
  switch (kind) {
    case 'flag':
      return 'no value';
    case 'boolean':
      return 'true or false';
    case 'int':
      return 'a whole number';
    case 'number':
      return 'a number';
    case 'duration':
      return 'a duration such as 30s';
    case 'method':
      return `one of ${METHODS.join(', ')}`;
    case 'header':
      return 'a one-line header "Name: value"';
    case 'text':
      return 'inline text';
    case 'line':
      return 'one line of text';
    case 'json':
      return 'inline JSON';
    case 'name':
      return 'a Kubernetes name';
    case 'hostname':
      return 'a host name';
    case 'userpass':
      return 'user:password';
    case 'csv':
      return 'csv';
    case 'grpc-method':
      return 'package.Service/Method';
    case 'address':
      return 'HOST:PORT';
  }
}

function valueFits(kind: ValueKind, value: string): boolean {
  if (value.includes('\0')) return false;
  switch (kind) {
    case 'flag':
      return false;
    case 'boolean':
      return value === 'true' || value === 'false';
    case 'int':
      return /^\d{1,9}$/.test(value);
    case 'number':
      return /^\d{1,9}(\.\d{1,6})?$/.test(value);
    case 'duration':
      return value.length <= 40 && GO_DURATION.test(value);
    case 'method':
      return METHODS.includes(value.toUpperCase());
    case 'header':
      return HEADER.test(value);
    case 'text':
      return true;
    case 'line':
      return !/[\r\n]/.test(value);
    case 'json':
      try {
        JSON.parse(value);
        return true;
      } catch {
        return false;
      }
    case 'name':
      return KUBERNETES_NAME.test(value);
    case 'hostname':
      return HOSTNAME.test(value);
    case 'userpass':
      return /^[^\s:]+:\S*$/.test(value);
    case 'csv':
      return value === 'csv';
    case 'grpc-method':
      return /^[A-Za-z_][\w.]*[/.][A-Za-z_]\w*$/.test(value);
    case 'address':
      return /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/.test(value);
  }
}

function refuse(program: string, option: string, why: string): never {
  throw new CommandNotAllowedError(`${program} option ${option} is not allowed: ${why}`);
}

function takesValue(shape: OptionShape): boolean {
  return shape.kind !== 'flag' && shape.kind !== 'boolean';
}

function checkValue(program: string, written: string, shape: OptionShape, value: string): void {
  if (valueFits(shape.kind, value)) return;
  // Headers and credentials often carry secrets even when malformed: their values are never echoed.
  const hidden = shape.secret === true || shape.kind === 'header';
  const visible = redactText(value.length > 60 ? `${value.slice(0, 60)}…` : value);
  const shown = hidden ? '' : ` (got ${JSON.stringify(visible)})`;
  throw new InvalidTaskError(`${program} option ${written} must be ${describeKind(shape.kind)}${shown}`);
}

/**
 * Reads `args` (the words after the program and its subcommand) against `shapes`. Throws
 * CommandNotAllowedError for an option outside the grammar and InvalidTaskError for a value of the
 * wrong shape; `why` explains the options a user is likely to try (`-o` writes a file, …).
 */
export function parseArguments(
  program: string,
  args: readonly string[],
  shapes: readonly OptionShape[],
  style: OptionStyle,
  why: Readonly<Record<string, string>> = {},
): ParsedArguments {
  const options: ParsedOption[] = [];
  const positionals: string[] = [];
  const find = (name: string): OptionShape | undefined => shapes.find((shape) => shape.names.includes(name));
  const unknown = (written: string, name: string): never =>
    refuse(
      program,
      written,
      why[name] ?? `it is not in the loadtester's table for ${program} (docs/loadtester.md)`,
    );
  const seen = new Set<OptionShape>();
  const add = (shape: OptionShape, written: string, value?: string): void => {
    if (seen.has(shape) && shape.repeatable !== true) {
      throw new InvalidTaskError(`${program} option ${written} is given twice`);
    }
    seen.add(shape);
    if (value !== undefined) checkValue(program, written, shape, value);
    options.push({ shape, written, ...(value === undefined ? {} : { value }) });
  };

  let index = 0;
  let positionalOnly = false;
  while (index < args.length) {
    const argument = args[index]!;
    index += 1;
    if (positionalOnly || !argument.startsWith('-') || argument === '-') {
      positionals.push(argument);
      // Go's flag package stops at the first positional: what follows is not read as options.
      if (style === 'go') positionalOnly = true;
      continue;
    }
    if (argument === '--') {
      refuse(program, '--', 'give the arguments without --');
    }
    const long = style === 'go' || argument.startsWith('--');
    if (long) {
      const body = argument.replace(/^--?/, '');
      const equals = body.indexOf('=');
      const name = equals < 0 ? body : body.slice(0, equals);
      const written = `${argument.startsWith('--') ? '--' : '-'}${name}`;
      const shape = find(name);
      if (shape === undefined || (style === 'gnu' && name.length === 1)) return unknown(written, name);
      if (equals >= 0) {
        const value = body.slice(equals + 1);
        if (shape.kind === 'flag') throw new InvalidTaskError(`${program} option ${written} takes no value`);
        add(shape, written, value);
      } else if (takesValue(shape)) {
        if (index >= args.length) throw new InvalidTaskError(`${program} option ${written} needs a value`);
        add(shape, written, args[index]);
        index += 1;
      } else {
        add(shape, written);
      }
      continue;
    }
    // A cluster of one-letter options; the first that takes a value takes the rest or the next word.
    for (let letterIndex = 1; letterIndex < argument.length; letterIndex += 1) {
      const letter = argument[letterIndex]!;
      const written = `-${letter}`;
      const shape = find(letter);
      if (shape === undefined || letter.length !== 1) return unknown(written, letter);
      if (!takesValue(shape)) {
        add(shape, written);
        continue;
      }
      const attached = argument.slice(letterIndex + 1);
      if (attached !== '') add(shape, written, attached);
      else {
        if (index >= args.length) throw new InvalidTaskError(`${program} option ${written} needs a value`);
        add(shape, written, args[index]);
        index += 1;
      }
      break;
    }
  }
  return { options, positionals };
}

/** The option's value for logs: credentials and credential headers hidden. */
export function displayValue(option: ParsedOption): string {
  if (option.value === undefined) return '';
  if (option.shape.secret === true) return '[redacted]';
  if (option.shape.kind === 'header') return redactHeader(option.value);
  return option.value;
}

/** Quotes a word for a log line when it holds spaces or quotes (for people, not for a shell). */
export function quoteForDisplay(word: string): string {
  return /^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}
