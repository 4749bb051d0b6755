import type { Command } from 'commander';
import { chooseConfig, fail, readStdin } from './context.ts';
import { Vault } from '../infra/vault/vault.ts';

function open(configFile: string | undefined): Vault {
  const choice = chooseConfig(configFile);
  // A generated dev key is allowed only where the dev issuer is (demo or identity.dev).
  return Vault.open({ stateDir: choice.stateDir, allowDevKey: choice.config?.identity.dev ?? true });
}

export function registerVault(program: Command): void {
  const vault = program.command('vault').description('upstream credentials, encrypted at rest (AES-256-GCM)');
  vault
    .command('set <name>')
    .description('store a secret read from stdin (never from the command line)')
    .option('-c, --config <file>', 'configuration file')
    .action(async (name: string, opts: { config?: string }) => {
      try {
        const v = open(opts.config);
        const value = (await readStdin()).replace(/\r?\n$/, '');
        v.set(name, value);
        process.stdout.write(`stored vault secret '${name}'\n`);
      } catch (e) {
        fail(e);
      }
    });
  vault
    .command('list')
    .description('list secret names (never values)')
    .option('-c, --config <file>', 'configuration file')
    .action((opts: { config?: string }) => {
      try {
        for (const n of open(opts.config).list()) process.stdout.write(n + '\n');
      } catch (e) {
        fail(e);
      }
    });
  vault
    .command('rm <name>')
    .description('remove a secret')
    .option('-c, --config <file>', 'configuration file')
    .action((name: string, opts: { config?: string }) => {
      try {
        if (!open(opts.config).remove(name)) {
          process.stderr.write(`gatehouse: no vault secret '${name}'\n`);
          process.exit(1);
        }
        process.stdout.write(`removed vault secret '${name}'\n`);
      } catch (e) {
        fail(e);
      }
    });
}
