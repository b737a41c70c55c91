import type { CliIo } from '../../src/cli/main.js';

/** A CliIo that collects what a command prints; `stdin` is what it reads from standard input. */
export function fakeIo(stdin = '') {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    stdout: (text) => out.push(text),
    stderr: (text) => err.push(text),
    readStdin: () => Promise.resolve(stdin),
  };
  return { io, stdout: () => out.join(''), stderr: () => err.join('') };
}
