/**
 * Manual gates (`/gate/*`, `/rollback/*`). flagger-loadtester keeps them in memory, so a restart
 * closes every gate a person opened (#1554); here they are also kept in a JSON file, rewritten
 * through a temporary file and a rename so that a crash never leaves half a file behind. A file
 * that cannot be read means "all gates closed", the state a canary is safe in, never a crash.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { writeFileAtomically } from '../shared/atomic-file.js';
import type { Logger } from '../shared/logger.js';
import { GateStateError, TooManyGatesError } from './errors.js';

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

/** Open gates kept at most: the state file, and the time to rewrite it, stay bounded. */
export const MAX_OPEN_GATES = 1_000;

interface PendingChange {
  readonly key: string;
  readonly open: boolean;
  readonly resolve: () => void;
  readonly reject: (cause: unknown) => void;
}

export class GateStore {
  private pending: PendingChange[] = [];
  private writing: Promise<void> | undefined;

  private constructor(
    private readonly file: string,
    /** What the file says: a change counts only once it is saved. */
    private open: ReadonlySet<string>,
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
      logger.info({ stateFile: file, openGates: open.size }, 'gate state loaded');
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

  /**
   * Opens or closes the gate once the file says so. Throws GateStateError if it cannot be saved
   * (the gate then stays as it was) and TooManyGatesError beyond MAX_OPEN_GATES.
   */
  setOpen(key: string, open: boolean): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ key, open, resolve, reject });
      this.writing ??= this.drain();
    });
  }

  /** Resolves when every change so far is on disk (or has failed). */
  async flush(): Promise<void> {
    while (this.writing !== undefined) await this.writing;
  }

  /**
   * Saves the changes that arrived while the previous write ran in one write: a burst of requests
   * costs a few writes, not one rewrite of the whole file each.
   */
  private async drain(): Promise<void> {
    // Let setOpen record this promise as the running write before anything below can finish.
    await Promise.resolve();
    try {
      while (this.pending.length > 0) {
        const batch = this.pending;
        this.pending = [];
        const next = new Set(this.open);
        const accepted: PendingChange[] = [];
        for (const change of batch) {
          if (change.open && !next.has(change.key) && next.size >= MAX_OPEN_GATES) {
            change.reject(new TooManyGatesError(MAX_OPEN_GATES));
            continue;
          }
          if (change.open) next.add(change.key);
          else next.delete(change.key);
          accepted.push(change);
        }
        const unchanged = next.size === this.open.size && [...next].every((key) => this.open.has(key));
        try {
          if (!unchanged) await this.write(next);
          this.open = next;
          for (const change of accepted) change.resolve();
        } catch (cause) {
          for (const change of accepted) change.reject(cause);
        }
      }
    } finally {
      this.writing = undefined;
    }
  }

  private async write(open: ReadonlySet<string>): Promise<void> {
    const content: GateFile = { version: 1, open: [...open].sort() };
    try {
      await mkdir(dirname(this.file), { recursive: true });
      await writeFileAtomically(this.file, `${JSON.stringify(content)}\n`);
    } catch (cause) {
      throw new GateStateError(
        `cannot save the gate state to ${this.file}: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
    }
  }
}
