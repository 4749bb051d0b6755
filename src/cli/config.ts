import type { Command } from 'commander';
import { fail } from './context.ts';
import { loadConfig } from '../config/load.ts';

export function registerConfig(program: Command): void {
  const config = program.command('config').description('configuration tools');
  config
    .command('check <file>')
    .description('validate a configuration file; prints every problem with its path')
    .action((file: string) => {
      try {
        const c = loadConfig(file);
        process.stdout.write(`${file}: ok (${c.connections.length} connection${c.connections.length === 1 ? '' : 's'})\n`);
      } catch (e) {
        fail(e);
      }
    });
}
