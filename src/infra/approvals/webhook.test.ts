import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import type { Logger } from '../../core/logger.ts';
import { agent, harness, human, requestInput } from '../../core/approvals/test-support.ts';
import { WebhookNotifier } from './webhook.ts';
import { escapeSlack, slackCodeBlock, slackInline } from './slack-format.ts';

const MALICIOUS = "UPDATE t SET x = '<https://evil|click> @channel *bold* <!here> ```` _i_ ~s~' -- <@U123> & done";

interface Received {
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let server: Server;
let base: string;
const received: Received[] = [];
let slowResponses = false;

before(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      if (req.url === '/redirect') return void res.writeHead(302, { location: 'http://169.254.169.254/latest' }).end();
      if (req.url === '/fail') return void res.writeHead(500).end('no');
      if (slowResponses || req.url === '/slow') return void setTimeout(() => res.writeHead(200).end('ok'), 1000);
      res.writeHead(200).end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function capturingLog(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = {
    lines,
    debug: (o: object, m?: string) => lines.push(JSON.stringify([o, m])),
    info: (o: object, m?: string) => lines.push(JSON.stringify([o, m])),
    warn: (o: object, m?: string) => lines.push(JSON.stringify([o, m])),
    error: (o: object, m?: string) => lines.push(JSON.stringify([o, m])),
    child: () => log,
  };
  return log;
}

function assertNeutralised(text: string): void {
  assert.ok(!text.includes('<https://evil'), 'no Slack link');
  assert.ok(!text.includes('<!here>') && !text.includes('<@U123>'), 'no Slack mention syntax');
  assert.ok(!/@channel/.test(text), 'no plain @channel');
  assert.ok(text.includes('&lt;https://evil|click&gt;'), 'the link text is shown, escaped');
  assert.ok(text.includes('&amp; done'), '& escaped');
  assert.ok(!text.includes('````'), 'backticks inside cannot close the code block');
}

describe('webhook notifier (loopback receiver)', () => {
  test('request, decision and expiry reach the receiver, with the statement escaped (json and slack)', async () => {
    received.length = 0;
    const { service, time } = harness();
    const log = capturingLog();
    const notifier = new WebhookNotifier({
      targets: [
        { url: `${base}/json/T0SECRETPATH`, format: 'json', secret: 'whsec-test' },
        { url: `${base}/slack/T0SECRETPATH`, format: 'slack' },
      ],
      log,
      instance: 'gw-test',
      now: () => time.now(),
    });
    notifier.attach(service);
    const r = await service.request(requestInput({ statement: MALICIOUS, approvalsNeeded: 2, approverGroups: ['dba', 'security'] }));
    await service.approve(r.id, human('dana', ['dba']), 'ok <https://evil|x> @here');
    await service.deny(r.id, human('sec', ['security']), '*no* during freeze');
    const r2 = await service.request(requestInput({ statement: 'DELETE FROM t', ttlSeconds: 5 }));
    await time.advance(5_000);
    await service.consumeFor(requestInput());
    await notifier.idle();

    const json = received.filter((x) => x.path.startsWith('/json')).map((x) => ({ ...x, parsed: JSON.parse(x.body) as Record<string, any> }));
    const slack = received.filter((x) => x.path.startsWith('/slack')).map((x) => ({ ...x, parsed: JSON.parse(x.body) as Record<string, any> }));
    assert.deepEqual(
      json.map((x) => x.parsed.type),
      ['approval.requested', 'approval.granted', 'approval.denied', 'approval.requested', 'approval.expired'],
    );
    assert.equal(slack.length, 5);

    const first = json[0]!;
    assert.equal(first.headers['content-type'], 'application/json');
    assert.equal(first.parsed.approval.id, r.id);
    assert.equal(first.parsed.approval.statementHash, r.statementHash);
    assert.equal(first.parsed.approval.statement, undefined, 'no raw statement by default');
    assert.equal(first.parsed.instance, 'gw-test');
    assertNeutralised(first.parsed.text);
    // Signature over `${t}.${body}`.
    const sig = String(first.headers['x-gatehouse-signature']);
    const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sig);
    assert.ok(m, sig);
    assert.equal(m[2], createHmac('sha256', 'whsec-test').update(`${m[1]}.${first.body}`).digest('hex'));
    assert.equal(json[1]!.headers['x-gatehouse-signature'] !== undefined, true);
    assert.equal(slack[0]!.headers['x-gatehouse-signature'], undefined, 'no secret configured, no signature');

    for (const s of slack) {
      assert.equal(s.parsed.unfurl_links, false);
      assert.equal(s.parsed.blocks[0].text.type, 'mrkdwn');
      assert.equal(s.parsed.blocks[0].text.text, s.parsed.text);
    }
    const slackText = slack[0]!.parsed.text as string;
    assertNeutralised(slackText);
    assert.match(slackText, /```\n[^`]*\*bold\*[^`]*\n```/, 'the statement sits in one code block, formatting shown literally');
    assert.ok(slackText.includes(`gatehouse approvals approve ${r.id}`));
    const grantedText = slack[1]!.parsed.text as string;
    assert.ok(grantedText.includes('Approval 1 of 2 given'));
    assert.ok(!grantedText.includes('<https://evil') && !/@here/.test(grantedText), 'approver reasons are escaped too');
    const deniedText = slack[2]!.parsed.text as string;
    assert.ok(deniedText.includes('`*no* during freeze`'), 'reason shown in code, not bold');
    assert.ok(slack[4]!.parsed.text.includes('expired'));
    assert.ok(slack[4]!.parsed.text.includes(r2.id));

    // Nothing secret leaves: no token-ish claims, no webhook secret; logs never carry the URL path.
    for (const x of received) {
      assert.ok(!x.body.includes('whsec-test'));
      assert.ok(!x.body.includes('@example.com'), 'claims (email) are not sent');
    }
    assert.ok(!log.lines.join('\n').includes('T0SECRETPATH'));
  });

  test('raw free text only on request; grants are notified too', async () => {
    received.length = 0;
    const { service } = harness();
    const notifier = new WebhookNotifier({ targets: [{ url: `${base}/raw`, rawText: true }], log: capturingLog() });
    notifier.attach(service);
    await service.request(requestInput({ statement: MALICIOUS }));
    const g = await service.requestGrant({ requester: agent, connection: 'customers', action: 'sql:write', durationSeconds: 600, reason: 'CHG-1 <!channel>' });
    await service.approveGrant(g.id, human('dana', ['dba']), 'ok');
    await service.revokeGrant(g.id, human('dana', ['dba']), 'done');
    await notifier.idle();
    const bodies = received.map((x) => JSON.parse(x.body) as Record<string, any>);
    assert.equal(bodies[0]!.approval.statement, MALICIOUS, 'exact text, as JSON data');
    assertNeutralised(bodies[0]!.text);
    assert.deepEqual(
      bodies.map((b) => b.type),
      ['approval.requested', 'grant.requested', 'grant.approved', 'grant.revoked'],
    );
    assert.equal(bodies[1]!.grant.reason, 'CHG-1 <!channel>');
    assert.ok(!bodies[1]!.text.includes('<!channel>'));
    assert.equal(bodies[2]!.grant.status, 'active');
  });

  test('never blocks: notify returns at once; slow receivers time out; excess is dropped; failures are counted', async () => {
    received.length = 0;
    const log = capturingLog();
    const { service } = harness();
    const notifier = new WebhookNotifier({
      targets: [{ url: `${base}/slow` }, { url: `${base}/fail` }, { url: `${base}/redirect` }],
      log,
      timeoutMs: 200,
      maxInFlight: 3,
    });
    const r = await service.request(requestInput());
    const t0 = performance.now();
    notifier.notify({ type: 'approval.requested', approval: r });
    notifier.notify({ type: 'approval.requested', approval: r });
    assert.ok(performance.now() - t0 < 50, 'notify is synchronous and quick');
    assert.equal(notifier.dropped, 3, 'second round dropped: three already in flight');
    await notifier.idle();
    assert.equal(notifier.failed, 3, 'timeout, 500 and redirect all count as failures');
    assert.equal(received.filter((x) => x.path === '/redirect').length, 1);
    assert.ok(!received.some((x) => x.path.startsWith('/latest')), 'redirect not followed');
    assert.ok(log.lines.some((l) => l.includes('"status":500')));
  });

  test('notifications only for the configured event types', async () => {
    received.length = 0;
    const { service } = harness();
    const notifier = new WebhookNotifier({ targets: [{ url: `${base}/only-denied`, events: ['approval.denied'] }], log: capturingLog() });
    notifier.attach(service);
    const r = await service.request(requestInput());
    await service.deny(r.id, human('dana', ['dba']), 'no');
    await notifier.idle();
    assert.deepEqual(received.map((x) => (JSON.parse(x.body) as { type: string }).type), ['approval.denied']);
  });

  test('non-http URLs are refused at construction', () => {
    assert.throws(() => new WebhookNotifier({ targets: [{ url: 'file:///etc/passwd' }], log: capturingLog() }));
  });
});

describe('slack escaping', () => {
  test('entities, mentions, backticks, control and bidi characters', () => {
    assert.equal(escapeSlack('a & b < c > d'), 'a &amp; b &lt; c &gt; d');
    assert.equal(escapeSlack('@channel @here @everyone ann@example.com'), '@\u2060channel @\u2060here @\u2060everyone ann@\u2060example.com');
    assert.equal(escapeSlack('x\u0000\u0007y\u202Ez'), 'xyz');
    assert.equal(slackInline('a`b\nc'), '`a\u02CBb c`');
    assert.equal(slackInline(''), '` `');
    assert.equal(slackCodeBlock('```x```'), '```\n\u02CB\u02CB\u02CBx\u02CB\u02CB\u02CB\n```');
    assert.equal(slackCodeBlock('x'.repeat(10), 4), '```\nxxxx…\n```');
    assert.equal(escapeSlack('&lt;'), '&amp;lt;', 'already-escaped text is escaped again, not passed through');
  });
});
