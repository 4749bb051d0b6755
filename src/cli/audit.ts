/**
 * `gatehouse audit …`, `gatehouse sessions list`, `gatehouse replay`: read
 * the audit log in inspect mode (never writes), or verify exported evidence
 * with nothing but a public key.
 */
import type { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { chooseConfig, fail } from './context.ts';
import { openAuditForReading, rotateAuditKey } from '../server/event-store.ts';
import { createLogger } from '../server/logger.ts';
import { AUDIT_KEY_ENV, anchorCoverage, readAnchors, verifyEvidence } from '../infra/audit/index.ts';
import type { VerifyResult } from '../infra/audit/index.ts';
import { GatewayError } from '../shared/errors.ts';
import { printReplay, sessionSummaries } from './replay-format.ts';
import { AccessReport, formatReportMarkdown, reportJson } from '../core/audit/report.ts';

function open(opts: { config?: string; pubkey?: string }, sign = false) {
  const choice = chooseConfig(opts.config);
  const pem = opts.pubkey ? readFileSync(opts.pubkey, 'utf8') : undefined;
  return { log: openAuditForReading(choice.stateDir, choice.config, process.env, pem, { sign }), choice };
}

/** ISO-8601 or ms since the epoch. */
export function parseTime(s: string | undefined, name: string): number | undefined {
  if (s === undefined) return undefined;
  const n = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
  if (!Number.isFinite(n)) throw new GatewayError('GW_CONFIG_INVALID', `--${name}: expected an ISO-8601 time or ms since the epoch, got '${s}'`, { clientSafe: true });
  return n;
}

function report(r: VerifyResult, what: string): void {
  const c = r.checked;
  if (r.ok) {
    process.stdout.write(
      `${what}: OK — ${c.entries} entries (seq ${c.firstSeq}..${c.firstSeq + c.entries - 1}), ${c.checkpoints} checkpoints verified (last covers ${c.lastCheckpointSize}), ${c.consistencyProofs} consistency proofs, ${c.payloads} payload commitments` +
        (c.payloadsExpired ? `, ${c.payloadsExpired} payloads expired by retention policy` : '') +
        (c.unsigned ? `, ${c.unsigned} entries after the last checkpoint (not yet signed)` : '') +
        '\n',
    );
    for (const e of r.expired) process.stdout.write(`  payloads ${e.from}..${e.to} (${e.class}) expired by retention run seq ${e.by}\n`);
    return;
  }
  const f = r.firstError!;
  process.stderr.write(`${what}: FAILED — first bad record: ${f.seq !== undefined ? `seq ${f.seq}` : f.checkpoint !== undefined ? `checkpoint ${f.checkpoint}` : 'log'}: ${f.problem}\n`);
  for (const p of r.problems.slice(1, 10)) process.stderr.write(`  also: ${p.seq !== undefined ? `seq ${p.seq}` : p.checkpoint !== undefined ? `checkpoint ${p.checkpoint}` : 'log'}: ${p.problem}\n`);
  process.exit(1);
}

/** What the anchored copies cover, so an empty folder or a stale copy is not mistaken for a protected log. */
function reportAnchors(notes: readonly string[], dir: string, r: VerifyResult): void {
  const { count, newestSize } = anchorCoverage(notes);
  const size = r.checked.lastCheckpointSize;
  if (count === 0) {
    process.stderr.write(`anchors: WARNING — no anchored checkpoints (*.note) in ${dir}: nothing to compare against\n`);
    return;
  }
  process.stdout.write(`anchors: ${count} anchored checkpoints from ${dir} compared; the newest covers entries 1..${newestSize}\n`);
  if (newestSize < size) process.stdout.write(`anchors: entries ${newestSize + 1}..${size} are signed but not yet covered by an anchored checkpoint\n`);
}

/** What the anchored copies told about a bundle: an auditor must see that the comparison happened. */
function reportBundleAnchors(notes: readonly string[], dir: string, r: VerifyResult): void {
  if (notes.length === 0) {
    process.stderr.write(`anchors: WARNING — no anchored checkpoints (*.note) in ${dir}: nothing to compare against\n`);
    return;
  }
  const a = r.checked.anchors;
  if (!a) return;
  process.stdout.write(`anchors: ${notes.length} anchored checkpoints from ${dir}: ${a.compared} compared with the bundle, ${a.outside} outside the checkpoints it holds (not checked)\n`);
  if (a.compared === 0) process.stderr.write(`anchors: WARNING — none of them falls within this bundle's checkpoints\n`);
}

/** Events read per query by `replay`. */
const REPLAY_PAGE = 1000;

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('the tamper-evident audit log (docs/audit.md)');
  audit
    .command('verify')
    .description('verify the live log: hashes, tree, signed checkpoints, sequence, payload commitments')
    .option('-c, --config <file>', 'configuration file')
    .option('--pubkey <file>', 'the public key checkpoints must verify with (default: the configured key)')
    .option('--anchors <dir>', 'compare against anchored checkpoints (*.note) in this folder: audit.anchorDir, or a copy of what the audit.anchorHttp receiver kept (reports a split view or rollback)')
    .action((opts: { config?: string; pubkey?: string; anchors?: string }) => {
      try {
        const { log, choice } = open(opts);
        const anchorDir = opts.anchors ?? (choice.config?.audit.anchorDir ? resolve(choice.baseDir, choice.config.audit.anchorDir) : undefined);
        const anchors = anchorDir ? readAnchors(anchorDir) : undefined;
        const r = log.verify(anchors ? { anchors } : {});
        log.close();
        if (anchors && anchorDir) reportAnchors(anchors, anchorDir, r);
        report(r, 'audit log');
      } catch (e) {
        fail(e);
      }
    });
  audit
    .command('export')
    .description('write an evidence bundle: envelopes, payloads, checkpoints, consistency proofs, public key, signed manifest')
    .requiredOption('--out <dir>', 'output folder (must not exist or be empty)')
    .option('--from <time>', 'first event time (ISO-8601 or ms)')
    .option('--to <time>', 'last event time (ISO-8601 or ms)')
    .option('-c, --config <file>', 'configuration file')
    .action((opts: { out: string; from?: string; to?: string; config?: string }) => {
      try {
        const { log } = open(opts, true);
        const from = parseTime(opts.from, 'from');
        const to = parseTime(opts.to, 'to');
        const s = log.exportBundle({ outDir: resolve(opts.out), ...(from !== undefined ? { from } : {}), ...(to !== undefined ? { to } : {}) });
        log.close();
        process.stdout.write(`exported seq ${s.firstSeq}..${s.lastSeq} (${s.entries} entries, ${s.payloads} payloads, ${s.checkpoints} checkpoints) to ${s.outDir}\nmanifest sha256 ${s.manifestSha256}\n`);
      } catch (e) {
        fail(e);
      }
    });
  audit
    .command('verify-bundle <path>')
    .description('verify an exported bundle (a folder) or an inclusion proof (a file) offline, with only the public key')
    .requiredOption('--pubkey <file>', 'the audit public key (PEM)')
    .option('--origin <origin>', 'expected checkpoint origin')
    .option('--anchors <dir>', "compare the bundle's checkpoints with anchored copies (*.note) in this folder: reports a split view")
    .action((path: string, opts: { pubkey: string; origin?: string; anchors?: string }) => {
      try {
        const anchors = opts.anchors ? readAnchors(opts.anchors) : undefined;
        const r = verifyEvidence(path, readFileSync(opts.pubkey, 'utf8'), { ...(opts.origin ? { origin: opts.origin } : {}), ...(anchors ? { anchors } : {}) });
        if (r.kind === 'bundle') {
          if (anchors && opts.anchors) reportBundleAnchors(anchors, opts.anchors, r.result);
          return report(r.result, `bundle ${path}`);
        }
        if (!r.result.ok) {
          process.stderr.write(`proof ${path}: FAILED — ${r.result.problem}\n`);
          process.exit(1);
        }
        process.stdout.write(`proof ${path}: OK — seq ${r.result.seq} is in the signed tree of size ${r.result.treeSize}${r.result.checkpointTime ? ` (checkpoint ${new Date(r.result.checkpointTime * 1000).toISOString()})` : ''}; payload ${r.result.payload}\n`);
      } catch (e) {
        fail(e);
      }
    });
  audit
    .command('prove')
    .description('print an inclusion proof for one event against the newest checkpoint')
    .requiredOption('--seq <n>', 'sequence number')
    .option('--out <file>', 'write to a file instead of stdout')
    .option('-c, --config <file>', 'configuration file')
    .action((opts: { seq: string; out?: string; config?: string }) => {
      try {
        const { log } = open(opts);
        const proof = JSON.stringify(log.prove(Number(opts.seq)), null, 2) + '\n';
        log.close();
        if (opts.out) writeFileSync(opts.out, proof);
        else process.stdout.write(proof);
      } catch (e) {
        fail(e);
      }
    });
  audit
    .command('report')
    .description('the access report for a period: who did what where, denials, approvals, grants, failed log-ins, policy and gateway changes, with the log verified')
    .option('--from <time>', 'start of the period (ISO-8601 or ms)')
    .option('--to <time>', 'end of the period (ISO-8601 or ms)')
    .option('--json', 'print JSON instead of Markdown')
    .option('--out <file>', 'write to a file instead of stdout')
    .option('--pubkey <file>', 'the public key checkpoints must verify with (default: the configured key)')
    .option('-c, --config <file>', 'configuration file')
    .action((opts: { from?: string; to?: string; json?: boolean; out?: string; pubkey?: string; config?: string }) => {
      try {
        const from = parseTime(opts.from, 'from');
        const to = parseTime(opts.to, 'to');
        const { log, choice } = open(opts);
        // The whole log is verified first: the report says whether the figures come from a log that holds.
        const v = log.verify();
        const report = new AccessReport({
          origin: choice.config?.audit.origin ?? 'gatehouse.local/audit',
          ...(from !== undefined ? { from } : {}),
          ...(to !== undefined ? { to } : {}),
          verification: {
            ok: v.ok,
            entries: v.checked.entries,
            checkpoints: v.checked.checkpoints,
            lastCheckpointSize: v.checked.lastCheckpointSize,
            unsigned: v.checked.unsigned,
            ...(v.firstError ? { firstProblem: v.firstError.problem } : {}),
          },
        });
        // A page at a time: a long period is never held in memory whole.
        for (let after = 0; ; ) {
          const events = log.query({ afterSeq: after, limit: REPLAY_PAGE, ...(from !== undefined ? { since: from } : {}), ...(to !== undefined ? { until: to } : {}) });
          for (const e of events) report.add(e);
          if (events.length < REPLAY_PAGE) break;
          after = events[events.length - 1]!.seq;
        }
        log.close();
        const data = report.data();
        const text = opts.json ? `${JSON.stringify(reportJson(data), null, 2)}\n` : formatReportMarkdown(data);
        if (opts.out) writeFileSync(opts.out, text);
        else process.stdout.write(text);
        if (!v.ok) process.exitCode = 1;
      } catch (e) {
        fail(e);
      }
    });
  audit
    .command('rotate-key')
    .description('hand the audit signing key over to a new key (stop the gateway first); checkpoints after it are signed by the new key')
    .option('--new-key <file>', 'the new Ed25519 private key (PEM); default: a new key, when the key lives in the state folder')
    .option('--reason <text>', 'why the key is rotated (recorded in the log)')
    .option('-c, --config <file>', 'configuration file')
    .action(async (opts: { newKey?: string; reason?: string; config?: string }) => {
      try {
        const choice = chooseConfig(opts.config);
        const r = await rotateAuditKey({
          stateDir: choice.stateDir,
          baseDir: choice.baseDir,
          env: process.env,
          log: createLogger(choice.config?.log.level ?? 'info'),
          config: choice.config,
          ...(opts.newKey ? { newKeyPem: readFileSync(opts.newKey, 'utf8') } : {}),
          ...(opts.reason ? { justification: opts.reason } : {}),
        });
        process.stdout.write(
          (r.resumed
            ? `finished the rotation that had stopped half-way: the log's key was already handed over from key ${r.fromKeyId} to key ${r.toKeyId}; no new key was made\n`
            : `audit key rotated: key ${r.fromKeyId} handed over to key ${r.toKeyId} at checkpoint ${r.checkpoint.id} (entries 1..${r.checkpoint.size}), signed by both\n`) +
            (r.keyFile
              ? `the new key is ${r.keyFile}; the retired key was moved to ${r.retiredFile} (destroy it per your key policy)\n`
              : `now set ${AUDIT_KEY_ENV} to the new key before starting Gatehouse: the retired key is refused\n`) +
            `give auditors the new public key: gatehouse audit pubkey\n`,
        );
      } catch (e) {
        fail(e);
      }
    });
  audit
    .command('pubkey')
    .description('print the audit public key (PEM), for auditors')
    .option('-c, --config <file>', 'configuration file')
    .action((opts: { config?: string }) => {
      try {
        const { log } = open(opts);
        process.stdout.write(log.publicKeyPem());
        log.close();
      } catch (e) {
        fail(e);
      }
    });

  const sessions = program.command('sessions').description('recorded sessions');
  sessions
    .command('list')
    .description('list sessions from the audit log')
    .option('--identity <subject>', 'only this subject')
    .option('--connection <name>', 'only this connection')
    .option('--since <time>', 'only sessions opened since (ISO-8601 or ms)')
    .option('--json', 'print JSON')
    .option('-c, --config <file>', 'configuration file')
    .action((opts: { identity?: string; connection?: string; since?: string; json?: boolean; config?: string }) => {
      try {
        const { log } = open(opts);
        const since = parseTime(opts.since, 'since');
        // Sessions from their own events; statement numbers counted in SQL (a long log has millions of statements).
        const events = log.query({ types: ['session.opened', 'session.closed'], ...(since !== undefined ? { since } : {}) });
        const counts = log.statementCounts(since !== undefined ? { since } : {});
        log.close();
        const rows = sessionSummaries(events, counts).filter((s) => (!opts.identity || s.subject === opts.identity) && (!opts.connection || s.connection === opts.connection));
        if (opts.json) {
          process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
          return;
        }
        if (!rows.length) process.stdout.write('no sessions\n');
        for (const r of rows) {
          process.stdout.write(
            `${r.sessionId}  ${new Date(r.openedAt).toISOString()}  ${r.closedAt ? `${((r.closedAt - r.openedAt) / 1000).toFixed(1)}s` : 'live'}  ${r.subject} (${r.groups.join(',')})  ${r.connection}  ${r.clientAddress}  ${r.statements} statements${r.denied ? `, ${r.denied} denied` : ''}\n`,
          );
        }
      } catch (e) {
        fail(e);
      }
    });

  program
    .command('replay <sessionId>')
    .description('replay a recorded session: statements, parameters and results as the client received them, in order with timing')
    .option('--json', 'print the timeline as JSON lines')
    .option('--follow', 'keep following a live session until it closes')
    .option('-c, --config <file>', 'configuration file')
    .action(async (sessionId: string, opts: { json?: boolean; follow?: boolean; config?: string }) => {
      try {
        const { log } = open(opts);
        let after = 0;
        // Times are relative to the session's first event, across pages and while following.
        let start: number | undefined;
        let closed = false;
        for (;;) {
          // A page at a time: a long session is never held in memory whole.
          const events = log.query({ sessionId, afterSeq: after, limit: REPLAY_PAGE });
          if (events.length) {
            start ??= events[0]!.time;
            after = events[events.length - 1]!.seq;
            printReplay(events, Boolean(opts.json), (s) => process.stdout.write(s), start);
            closed ||= events.some((e) => e.type === 'session.closed');
          }
          if (events.length === REPLAY_PAGE) continue;
          if (!opts.follow || closed) break;
          await new Promise((r) => setTimeout(r, 500));
        }
        const found = start !== undefined;
        log.close();
        if (!found) throw new GatewayError('GW_CONFIG_INVALID', `no session '${sessionId}' in the audit log`, { clientSafe: true });
      } catch (e) {
        fail(e);
      }
    });
}
