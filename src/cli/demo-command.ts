import type { CliIo } from './main.js';

export async function runDemo(_options: { json?: boolean }, io: CliIo): Promise<number> {
  io.stderr('vireo demo: not built yet\n');
  return Promise.resolve(1);
}
