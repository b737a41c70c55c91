/**
 * Turns a command text into argv the way a POSIX shell splits words ('…', "…" and backslash
 * escapes), for running it WITHOUT a shell. Anything that only a shell would act on (separators,
 * pipes, redirections, substitutions, expansions, comments) is refused with the construct named,
 * rather than passed on as a literal argument the author did not mean.
 */
import { ShellSyntaxError } from './errors.js';

const WHITESPACE = new Set([' ', '\t']);
const NAME_START = /[A-Za-z_]/;
const NAME_CHAR = /[A-Za-z0-9_]/;
const SPECIAL_PARAMETER = /[0-9@*#?$!-]/;

const ADVICE =
  'commands run without a shell: run one program with its arguments, or start the loadtester with --allow-any-command';

function refuse(construct: string, position: number): never {
  throw new ShellSyntaxError(
    `shell syntax is not allowed: ${construct} at character ${position + 1}; ${ADVICE}`,
  );
}

/** Names the expansion a `$` at `index` starts, or undefined when the shell keeps it literal. */
function expansionAt(text: string, index: number, quoted: boolean): string | undefined {
  const next = text[index + 1];
  if (next === undefined) return undefined;
  if (next === '(')
    return text[index + 2] === '(' ? "'$((…))' (arithmetic expansion)" : "'$(…)' (command substitution)";
  if (next === '{') return "'${…}' (variable expansion)";
  if (NAME_START.test(next)) {
    let end = index + 2;
    while (end < text.length && NAME_CHAR.test(text[end]!)) end += 1;
    return `'${text.slice(index, end)}' (variable expansion)`;
  }
  if (SPECIAL_PARAMETER.test(next)) return `'$${next}' (special parameter)`;
  if (!quoted && (next === "'" || next === '"')) return `'$${next}…${next}' (shell quoting)`;
  return undefined;
}

/** Constructs a shell acts on outside quotes; `&` and `|` are told apart from `&&` and `||`. */
function operatorAt(text: string, index: number): string | undefined {
  const char = text[index]!;
  const next = text[index + 1];
  switch (char) {
    case ';':
      return "';' (command separator)";
    case '&':
      return next === '&' ? "'&&' (and-list)" : "'&' (background job)";
    case '|':
      return next === '|' ? "'||' (or-list)" : "'|' (pipe)";
    case '>':
      return "'>' (output redirection)";
    case '<':
      return "'<' (input redirection)";
    case '`':
      return "backticks '`…`' (command substitution)";
    case '(':
    case ')':
      return `'${char}' (subshell)`;
    case '\n':
    case '\r':
      return 'a newline (a shell would run each line as a command)';
    default:
      return undefined;
  }
}

/**
 * Splits `text` into words. Throws ShellSyntaxError naming the first construct that needs a shell,
 * an unterminated quote, a trailing backslash or a NUL byte.
 */
export function parseCommandLine(text: string): string[] {
  const nul = text.indexOf('\0');
  if (nul >= 0) refuse('a NUL byte', nul);
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  let quoteStart = 0;

  for (let index = 0; index < text.length; index += 1) {
    const char = text[index]!;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
      continue;
    }
    if (quote === '"') {
      if (char === '"') {
        quote = undefined;
      } else if (char === '\\') {
        const next = text[index + 1];
        // Inside double quotes a backslash only escapes these; elsewhere it stays literal.
        if (next === '\n') index += 1;
        else if (next === '$' || next === '`' || next === '"' || next === '\\') {
          word += next;
          index += 1;
        } else word += char;
      } else if (char === '`') {
        refuse("backticks '`…`' (command substitution)", index);
      } else if (char === '$') {
        const expansion = expansionAt(text, index, true);
        if (expansion !== undefined) refuse(expansion, index);
        word += char;
      } else word += char;
      continue;
    }
    if (WHITESPACE.has(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    if (char === '\\') {
      const next = text[index + 1];
      if (next === undefined) refuse('a trailing backslash', index);
      index += 1;
      if (next === '\n') continue; // a line continuation joins the lines
      word += next;
      inWord = true;
      continue;
    }
    if (char === "'" || char === '"') {
      quote = char;
      quoteStart = index;
      inWord = true;
      continue;
    }
    if (char === '$') {
      const expansion = expansionAt(text, index, false);
      if (expansion !== undefined) refuse(expansion, index);
    }
    if (char === '#' && !inWord) refuse("'#' (comment)", index);
    const operator = operatorAt(text, index);
    if (operator !== undefined) refuse(operator, index);
    word += char;
    inWord = true;
  }
  if (quote !== undefined) refuse(`an unterminated quote (${quote})`, quoteStart);
  if (inWord) words.push(word);
  return words;
}

/**
 * Flagger's splitting for helm and kubectl tasks (Go's strings.Fields): whitespace only, quotes
 * kept as characters. No shell runs these, so shell characters are plain arguments.
 */
export function splitFields(text: string): string[] {
  return text.split(/[\s]+/u).filter((field) => field !== '');
}
