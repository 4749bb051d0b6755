import type { Command } from 'commander';
import { chooseConfig, fail } from './context.ts';
import { startGateway } from '../server/gateway.ts';
import { demoConfig, startDemoDatabase, type DemoDatabase } from '../server/demo.ts';

export function registerUp(program: Command): void {
  program
    .command('up')
    .description('start Gatehouse (demo mode with an embedded Postgres when no config file is present)')
    .option('-c, --config <file>', 'configuration file (default: ./gatehouse.yaml if present, else demo mode)')
    .option('--demo-listen <host:port>', 'where the demo listens for Postgres clients', '127.0.0.1:15432')
    .option('--demo-admin <host:port>', 'where the demo serves the admin and approvals API', '127.0.0.1:18000')
    .action(async (opts: { config?: string; demoListen: string; demoAdmin: string }) => {
      let demo: DemoDatabase | null = null;
      try {
        const choice = chooseConfig(opts.config);
        let config = choice.config;
        if (!config) {
          process.stderr.write('gatehouse: no gatehouse.yaml here: starting the demo (embedded Postgres, dev token issuer)…\n');
          demo = await startDemoDatabase(choice.stateDir);
          config = demoConfig(demo.port, opts.demoListen, opts.demoAdmin);
        }
        const gw = await startGateway({ config, baseDir: choice.baseDir });
        const { host, port } = gw.postgres;
        // The approvals CLI finds the admin API at 127.0.0.1:18000 unless told otherwise.
        const defaultAdmin = gw.admin.host === '127.0.0.1' && gw.admin.port === 18000;
        const api = defaultAdmin ? '' : ` GATEHOUSE_API=http://${gw.admin.host}:${gw.admin.port}`;
        if (demo) {
          process.stdout.write(
            [
              '',
              `Gatehouse demo is running. Postgres clients connect to ${host}:${port}; the connection is named "demo".`,
              '',
              'Get a token from the dev issuer and connect with psql:',
              `  PGPASSWORD=$(npx gatehouse token --sub demo-agent --groups agents) psql "host=${host} port=${port} dbname=demo user=demo-agent"`,
              '',
              'Then try:  SELECT name, email, card_number FROM customers LIMIT 5;',
              "A write needs a DBA's approval:  UPDATE customers SET balance = 0 WHERE id = 1;",
              `  then approve it:  export GATEHOUSE_TOKEN=$(npx gatehouse token --sub dba-1 --groups dba)${api}`,
              `                    npx gatehouse approvals list   and   npx gatehouse approvals approve ID --reason "…"`,
              `Admin and approvals API: http://${gw.admin.host}:${gw.admin.port}/api/v1/approvals`,
              `State (events, keys, demo data) is in ${gw.stateDir}. Stop with Ctrl-C.`,
              '',
            ].join('\n'),
          );
        } else {
          process.stdout.write(`Gatehouse is running: postgres on ${host}:${port}, admin API on ${gw.admin.host}:${gw.admin.port}\n`);
        }
        let stopping = false;
        const shutdown = (sig: string): void => {
          if (stopping) return;
          stopping = true;
          process.stderr.write(`gatehouse: ${sig} received, shutting down\n`);
          void gw
            .stop()
            .then(() => demo?.stop())
            .then(() => process.exit(0), (e) => fail(e));
        };
        process.on('SIGTERM', () => shutdown('SIGTERM'));
        process.on('SIGINT', () => shutdown('SIGINT'));
      } catch (e) {
        await demo?.stop().catch(() => {});
        fail(e);
      }
    });
}
