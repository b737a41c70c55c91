/** Reads `vireo validate` operands: files, directories (recursively) and `-` for standard input. */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readManifestFile } from '../shared/text-input.js';

export interface InputText {
  file: string;
  text: string;
}

export interface UnreadableInput {
  file: string;
  reason: string;
}

export interface Inputs {
  texts: InputText[];
  unreadable: UnreadableInput[];
}

const MANIFEST_EXTENSIONS = /\.(ya?ml|json)$/i;

async function manifestsIn(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true });
  const files: string[] = [];
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await manifestsIn(path)));
    else if (MANIFEST_EXTENSIONS.test(entry.name)) files.push(path);
  }
  return files;
}

function reasonOf(cause: unknown): string {
  const code = (cause as { code?: string }).code;
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'EACCES') return 'permission denied';
  return cause instanceof Error ? cause.message : String(cause);
}

export async function readInputs(
  operands: readonly string[],
  readStdin: () => Promise<string>,
): Promise<Inputs> {
  const texts: InputText[] = [];
  const unreadable: UnreadableInput[] = [];
  for (const operand of operands) {
    if (operand === '-') {
      try {
        texts.push({ file: '<stdin>', text: await readStdin() });
      } catch (cause) {
        unreadable.push({ file: '<stdin>', reason: reasonOf(cause) });
      }
      continue;
    }
    try {
      const info = await stat(operand);
      const files = info.isDirectory() ? await manifestsIn(operand) : [operand];
      if (info.isDirectory() && files.length === 0) {
        unreadable.push({ file: operand, reason: 'directory holds no .yaml, .yml or .json files' });
      }
      for (const file of files) {
        try {
          texts.push({ file, text: await readManifestFile(file) });
        } catch (cause) {
          unreadable.push({ file, reason: reasonOf(cause) });
        }
      }
    } catch (cause) {
      unreadable.push({ file: operand, reason: reasonOf(cause) });
    }
  }
  return { texts, unreadable };
}
