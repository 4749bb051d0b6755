/**
 * Child process for the kill -9 recovery test: appends under load, prints
 * each acknowledged seq, and SIGKILLs itself with appends still in flight.
 */
import { sampleEvents } from '../../core/audit/test-support.ts';
import { openLog } from './test-support.ts';
import { loadOrCreateSigningKey } from './keys.ts';

const dir = process.argv[2]!;
const log = openLog(dir, { checkpointEvery: { entries: 250, seconds: 3600 }, signingKey: loadOrCreateSigningKey(dir, {}).privateKey });
const events = sampleEvents();
let acked = 0;
let i = 0;
const pump = (): void => {
  for (let k = 0; k < 200; k++) {
    void log.append(events[i++ % events.length]!).then((s) => {
      process.stdout.write(`${s.seq}\n`);
      acked++;
    });
  }
  if (acked > 1500) {
    // Kill with a batch queued and maybe mid-write.
    setImmediate(() => process.kill(process.pid, 'SIGKILL'));
    return;
  }
  setImmediate(pump);
};
pump();
