import type { Command } from 'commander';
import { resolve } from 'node:path';
import { chooseConfig, fail, parseClaims } from './context.ts';
import { policyCheck, policyExplain, policyTest } from '../infra/policy/tools.ts';
import { GatewayError } from '../shared/errors.ts';

/** The policy folder: an explicit argument, else the config's policy.dir. */
function policyDir(explicit: string | undefined, configFile: string | undefined): string {
  if (explicit) return resolve(explicit);
  const choice = chooseConfig(configFile);
  const dir = choice.config?.policy.dir;
  if (!dir) {
    throw new GatewayError('GW_CONFIG_INVALID', 'no policy folder: pass one, or set policy.dir in the configuration', { clientSafe: true });
  }
  return resolve(choice.baseDir, dir);
}

export function registerPolicy(program: Command): void {
  const policy = program.command('policy').description('Cedar policy tools (docs/policy.md)');
  policy
    .command('check [dir]')
    .description('validate policies against the schema; prints each problem with file and line')
    .option('-c, --config <file>', 'configuration file (for policy.dir)')
    .action((dir: string | undefined, opts: { config?: string }) => {
      try {
        const d = policyDir(dir, opts.config);
        const r = policyCheck(d);
        for (const w of r.warnings) process.stderr.write(`warning: ${w.file}:${w.line}: ${w.message}\n`);
        if (!r.ok) {
          for (const e of r.errors) process.stderr.write(`${e.file}:${e.line}: ${e.message}\n`);
          process.exit(1);
        }
        process.stdout.write(`${d}: ok (${r.policies} polic${r.policies === 1 ? 'y' : 'ies'})\n`);
      } catch (e) {
        fail(e);
      }
    });
  policy
    .command('explain')
    .description('classify a statement and show each (action, table) decision and the deciding policies')
    .requiredOption('--sub <name>', 'subject')
    .option('--groups <a,b>', 'comma-separated groups', '')
    .option('--claim <key=value>', 'claim (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--kind <kind>', 'human or workload', 'human')
    .requiredOption('--connection <name>', 'connection name')
    .requiredOption('--sql <statement>', 'the SQL to decide')
    .option('--dir <dir>', 'policy folder (default: policy.dir of the configuration)')
    .option('-c, --config <file>', 'configuration file')
    .action(async (opts: { sub: string; groups: string; claim: string[]; kind: string; connection: string; sql: string; dir?: string; config?: string }) => {
      try {
        const out = await policyExplain({
          sub: opts.sub,
          groups: opts.groups.split(',').map((g) => g.trim()).filter(Boolean),
          claims: parseClaims(opts.claim),
          kind: opts.kind === 'workload' ? 'workload' : 'human',
          connection: opts.connection,
          sql: opts.sql,
          dir: policyDir(opts.dir, opts.config),
        });
        process.stdout.write(out.endsWith('\n') ? out : out + '\n');
      } catch (e) {
        fail(e);
      }
    });
  policy
    .command('test <file>')
    .description('run a YAML file of expected decisions; exits non-zero on any miss')
    .option('--dir <dir>', 'policy folder (default: the file\'s `policies:` entry)')
    .action(async (file: string, opts: { dir?: string }) => {
      try {
        const r = await policyTest(file, opts.dir ? resolve(opts.dir) : undefined);
        for (const f of r.failed) {
          process.stdout.write(`FAIL ${f.name}: expected ${f.expected}, got ${f.got}${f.message ? ` (${f.message})` : ''}\n`);
        }
        process.stdout.write(`${r.passed} passed, ${r.failed.length} failed\n`);
        if (r.failed.length > 0) process.exit(1);
      } catch (e) {
        fail(e);
      }
    });
}
