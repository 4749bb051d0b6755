import type { Command } from 'commander';
import { chooseConfig, fail, parseClaims } from './context.ts';
import { DevIssuer } from '../infra/idp/dev-issuer.ts';
import { parseDuration } from '../config/duration.ts';
import { GatewayError } from '../shared/errors.ts';

export function registerToken(program: Command): void {
  program
    .command('token')
    .description('print a token from the built-in dev issuer (only when identity.dev is on, as in the demo)')
    .requiredOption('--sub <name>', 'subject (who the token is for)')
    .option('--groups <a,b>', 'comma-separated groups', '')
    .option('--claim <key=value>', 'extra claim (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--ttl <duration>', 'lifetime, e.g. 15m', '15m')
    .option('-c, --config <file>', 'configuration file')
    .action(async (opts: { sub: string; groups: string; claim: string[]; ttl: string; config?: string }) => {
      try {
        const choice = chooseConfig(opts.config);
        if (choice.config && !choice.config.identity.dev) {
          throw new GatewayError('GW_DEV_ISSUER_DISABLED', `the dev issuer is off in ${choice.file} (identity.dev: false); get a token from your identity provider`, {
            clientSafe: true,
          });
        }
        const claims = parseClaims(opts.claim);
        const issuer = await DevIssuer.load(choice.stateDir);
        const token = await issuer.sign({
          sub: opts.sub,
          groups: opts.groups.split(',').map((g) => g.trim()).filter(Boolean),
          claims,
          ttlSeconds: parseDuration(opts.ttl),
        });
        process.stdout.write(token + '\n');
      } catch (e) {
        fail(e);
      }
    });
}
