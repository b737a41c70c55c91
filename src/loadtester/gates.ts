/**
 * Manual gates (`/gate/*`, `/rollback/*`). flagger-loadtester keeps them in memory, so a restart
 * closes every gate a person opened (#1554); here they are also kept in a JSON file, rewritten
 * through a temporary file and a rename so that a crash never leaves half a file behind. A file
 * that cannot be read means "all gates closed", the state a canary is safe in, never a crash.
 */
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../shared/logger.js';
import { GateStateError } from './errors.js';

export function gateKey(name: string, namespace: string): string {
  return `${name}.${namespace}`;
}

export function rollbackKey(name: string, namespace: string): string {
  return `rollback.${name}.${namespace}`;
}

interface GateFile {
  readonly version: 1;
  /** Keys of the open gates; a gate not listed is closed. */
  readonly open: readonly string[];
}

function parseGateFile(text: string): Set<string> {
  const parsed = JSON.parse(text) as Partial<GateFile> | null;
  if (
    typeof parsed !== 'object' ||
    parsed === null ||
    !Array.isArray(parsed.open) ||
    !parsed.open.every((key) => typeof key === 'string')
  ) {
    throw new Error('expected {"version":1,"open":["name.namespace", …]}');
  }
  return new Set(parsed.open);
}

export class GateStore {
  private writes: Promise<void> = Promise.resolve();
  private writeCount = 0;

  private constructor(
    private readonly file: string,
    private readonly open: Set<string>,
  ) {}

  /** Reads the state file; a missing file is an empty store, a damaged one is logged and ignored. */
  static async load(file: string, logger: Logger): Promise<GateStore> {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code !== 'ENOENT') {
        logger.warn(
          { stateFile: file, err: cause instanceof Error ? cause.message : String(cause) },
          'cannot read the gate state file; starting with every gate closed',
        );
      }
      return new GateStore(file, new Set());
    }
    try {
      const open = parseGateFile(text);
      logger.info({ stateFile: file, openGates: [...open] }, 'gate state loaded');
      return new GateStore(file, open);
    } catch (cause) {
      logger.warn(
        { stateFile: file, err: cause instanceof Error ? cause.message : String(cause) },
        'the gate state file is damaged; starting with every gate closed (the file is replaced at the next change)',
      );
      return new GateStore(file, new Set());
    }
  }

  isOpen(key: string): boolean {
    return this.open.has(key);
  }

  openKeys(): string[] {
    return [...this.open].sort();
  }

  /** Opens the gate and resolves once the file says so. Throws GateStateError if it cannot be saved. */
  setOpen(key: string, open: boolean): Promise<void> {
    if (open) this.open.add(key);
    else this.open.delete(key);
    return this.save();
  }

  /** Resolves when every change so far is on disk. */
  async flush(): Promise<void> {
    await this.writes.catch(() => undefined);
  }

  private save(): Promise<void> {
    // Writes are serialised and each writes the whole current state, so the last one wins.
    const next = this.writes
      .catch(() => undefined)
      .then(async () => {
        const content: GateFile = { version: 1, open: this.openKeys() };
        const temporary = `${this.file}.${process.pid}.${++this.writeCount}.tmp`;
        try {
          await mkdir(dirname(this.file), { recursive: true });
          await writeFile(temporary, `${JSON.stringify(content, null, 2)}\n`);
          await rename(temporary, this.file);
        } catch (cause) {
          await rm(temporary, { force: true }).catch(() => undefined);
          throw new GateStateError(
            `cannot save the gate state to ${this.file}: ${cause instanceof Error ? cause.message : String(cause)}`,
            { cause },
          );
        }
      });
    this.writes = next;
    return next;
  }
}
