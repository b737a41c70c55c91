/**
 * Compatibility: every hook command in the Canaries of Flagger's documentation (test/fixtures/flagger)
 * is accepted by the loadtester's default policy, without --allow-any-command.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  COMMAND_TASK_TYPES,
  DEFAULT_ALLOWED_COMMANDS,
  planCommand,
  type CommandTaskType,
} from './commands.js';

const fixtures = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'flagger');

function hookCommands(): { type: CommandTaskType; cmd: string }[] {
  const found = new Map<string, { type: CommandTaskType; cmd: string }>();
  for (const directory of readdirSync(fixtures, { withFileTypes: true })) {
    if (!directory.isDirectory()) continue;
    for (const file of readdirSync(join(fixtures, directory.name))) {
      if (!file.endsWith('.yaml')) continue;
      for (const document of parseAllDocuments(readFileSync(join(fixtures, directory.name, file), 'utf8'))) {
        const canary = document.toJS() as {
          spec?: { analysis?: { webhooks?: { metadata?: Record<string, unknown> }[] } };
        };
        for (const hook of canary?.spec?.analysis?.webhooks ?? []) {
          const cmd = hook.metadata?.['cmd'];
          const type = (hook.metadata?.['type'] ?? 'cmd') as CommandTaskType;
          if (typeof cmd !== 'string' || !COMMAND_TASK_TYPES.includes(type)) continue;
          found.set(`${type}\0${cmd}`, { type, cmd });
        }
      }
    }
  }
  return [...found.values()];
}

describe("Flagger's documented hooks", () => {
  const hooks = hookCommands();

  it('are found in the fixtures', () => {
    expect(hooks.length).toBeGreaterThanOrEqual(50);
  });

  it.each(hooks)('accepts $type: $cmd', ({ type, cmd }) => {
    expect(() =>
      planCommand(type, cmd, { allowAnyCommand: false, allowed: [...DEFAULT_ALLOWED_COMMANDS] }),
    ).not.toThrow();
  });
});
