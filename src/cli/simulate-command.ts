import type { CliIo } from './main.js';

export async function runSimulate(_file: string, _options: unknown, io: CliIo): Promise<number> {
  io.stderr('vireo simulate: not built yet\n');
  return Promise.resolve(1);
}
