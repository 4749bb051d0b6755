/**
 * `gatehouse approvals …` and `gatehouse access …`: thin over the admin API
 * (docs/api.md), authenticated with the caller's own OIDC token.
 */
import type { Command } from 'commander';
import { chooseConfig, fail } from './context.ts';
import { approvalsClient, ApiError, type ApprovalView, type GrantView } from '../api/client.ts';
import { GatewayError } from '../shared/errors.ts';

interface ApiOpts {
  token?: string;
  api?: string;
  config?: string;
  json?: boolean;
}

function client(opts: ApiOpts) {
  const token = opts.token ?? process.env.GATEHOUSE_TOKEN;
  if (!token) {
    throw new GatewayError('GW_AUTH_TOKEN_MISSING', 'no token: pass --token or set GATEHOUSE_TOKEN to your OIDC token (in the demo: $(npx gatehouse token --sub NAME --groups dba))', {
      clientSafe: true,
    });
  }
  let base = opts.api ?? process.env.GATEHOUSE_API;
  if (!base) {
    const admin = chooseConfig(opts.config).config?.listen.admin ?? { host: '127.0.0.1', port: 18000 };
    const host = admin.host.includes(':') ? `[${admin.host}]` : admin.host;
    base = `http://${host}:${admin.port}`;
  }
  return approvalsClient(base, token);
}

function withApi(cmd: Command): Command {
  return cmd
    .option('--token <jwt>', 'your OIDC token (default: $GATEHOUSE_TOKEN)')
    .option('--api <url>', 'admin API base URL (default: $GATEHOUSE_API or the config listen.admin)')
    .option('-c, --config <file>', 'configuration file')
    .option('--json', 'print JSON');
}

async function act(opts: ApiOpts, f: () => Promise<unknown>, print: (v: never) => string): Promise<void> {
  try {
    const v = await f();
    process.stdout.write(opts.json ? JSON.stringify(v, null, 2) + '\n' : print(v as never) + '\n');
  } catch (e) {
    if (e instanceof ApiError) {
      process.stderr.write(`gatehouse: ${e.message} (${e.code}, HTTP ${e.status})\n`);
      process.exit(1);
    }
    fail(e);
  }
}

function approvalLine(a: ApprovalView): string {
  const who = `${a.requester.subject}`;
  return `${a.id}  ${a.status.padEnd(8)}  ${a.connection}  ${a.action} ${a.tables.join(',')}  by ${who}  ${a.approvals.length}/${a.approvalsNeeded} from ${a.approverGroups.join('|')}  expires ${a.expiresAt}\n    ${a.statement.replace(/\s+/g, ' ').slice(0, 160)}`;
}

function approvalDetail(a: ApprovalView): string {
  return [
    `id:          ${a.id}`,
    `status:      ${a.status} (${a.mode})`,
    `requester:   ${a.requester.subject} (${a.requester.issuer})`,
    `connection:  ${a.connection}`,
    `action:      ${a.action} on ${a.tables.join(', ') || '(connection)'}`,
    `statement:   ${a.statement}`,
    `sha256:      ${a.statementHash}`,
    `policy:      ${a.policyId} (version ${a.policyVersion})`,
    `approvers:   ${a.approvalsNeeded} from ${a.approverGroups.join(', ')}`,
    `approvals:   ${a.approvals.map((v) => `${v.approver.subject}: ${v.reason}`).join('; ') || 'none'}`,
    ...(a.denial ? [`denied by:   ${a.denial.approver.subject}: ${a.denial.reason}`] : []),
    `expires:     ${a.expiresAt}`,
  ].join('\n');
}

function grantLine(g: GrantView): string {
  return `${g.id}  ${g.status.padEnd(8)}  ${g.connection}  ${g.action}${g.table ? ` on ${g.table}` : ''}  for ${g.requester.subject}  ${g.expiresAt ? `until ${g.expiresAt}` : ''}  reason: ${g.reason}`;
}

export function registerApprovals(program: Command): void {
  const approvals = program.command('approvals').description('review statements held for approval');
  withApi(approvals.command('list').description('list approval requests you can see').option('--status <status>', 'pending, approved, denied, expired, used')).action(
    (opts: ApiOpts & { status?: string }) =>
      act(opts, () => client(opts).list(opts.status ? { status: opts.status as never } : {}), (v: ApprovalView[]) => (v.length ? v.map(approvalLine).join('\n') : 'no approval requests')),
  );
  withApi(approvals.command('show <id>').description('show one request, with the exact statement')).action((id: string, opts: ApiOpts) =>
    act(opts, () => client(opts).show(id), approvalDetail),
  );
  withApi(approvals.command('approve <id>').description('approve a request (a reason is required)').requiredOption('--reason <text>', 'why')).action(
    (id: string, opts: ApiOpts & { reason: string }) => act(opts, () => client(opts).approve(id, opts.reason), (a: ApprovalView) => `${a.id}: ${a.status} (${a.approvals.length}/${a.approvalsNeeded})`),
  );
  withApi(approvals.command('deny <id>').description('deny a request (a reason is required)').requiredOption('--reason <text>', 'why')).action(
    (id: string, opts: ApiOpts & { reason: string }) => act(opts, () => client(opts).deny(id, opts.reason), (a: ApprovalView) => `${a.id}: ${a.status}`),
  );

  const access = program.command('access').description('just-in-time access grants');
  withApi(
    access
      .command('request')
      .description('ask for time-boxed access (needs approval)')
      .requiredOption('--connection <name>', 'connection')
      .requiredOption('--action <action>', 'e.g. sql:write')
      .option('--table <schema.table>', 'limit the grant to one table')
      .requiredOption('--duration <d>', 'e.g. 30m')
      .requiredOption('--reason <text>', 'e.g. a change ticket'),
  ).action((opts: ApiOpts & { connection: string; action: string; table?: string; duration: string; reason: string }) =>
    act(
      opts,
      () => client(opts).requestGrant({ connection: opts.connection, action: opts.action, ...(opts.table ? { table: opts.table } : {}), duration: opts.duration, reason: opts.reason }),
      grantLine,
    ),
  );
  withApi(access.command('list').description('your grants (approvers also see pending ones)').option('--status <status>', 'pending, active, …')).action(
    (opts: ApiOpts & { status?: string }) =>
      act(opts, () => client(opts).listGrants(opts.status ? { status: opts.status as never } : {}), (v: GrantView[]) => (v.length ? v.map(grantLine).join('\n') : 'no grants')),
  );
  withApi(access.command('approve <id>').description('approve a grant request').requiredOption('--reason <text>', 'why')).action(
    (id: string, opts: ApiOpts & { reason: string }) => act(opts, () => client(opts).approveGrant(id, opts.reason), grantLine),
  );
  withApi(access.command('revoke <id>').description('revoke a grant; sessions that depend on it end within seconds').option('--reason <text>', 'why', '')).action(
    (id: string, opts: ApiOpts & { reason: string }) => act(opts, () => client(opts).revokeGrant(id, opts.reason), grantLine),
  );
}
