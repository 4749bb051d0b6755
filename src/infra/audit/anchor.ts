/**
 * Anchoring to a directory: every new checkpoint is also written as its own
 * file, never overwritten (flag 'wx'). Point the directory at write-once
 * storage (WORM bucket mount, append-only NFS export, a host the gateway's
 * operators do not administer) and `verify` can then compare the live log
 * against the copies: a rollback or a rewritten history shows up as a split
 * view. The HTTP sink (anchor-http.ts) is a second implementation of the
 * same `onCheckpoint` callback; its receiver keeps the notes as files the
 * auditor reads with `readAnchors` the same way.
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CheckpointInfo } from './sqlite-log.ts';

/** `onCheckpoint` callback writing `<dir>/<size padded>-<id>.note`. */
export function directoryAnchor(dir: string): (cp: CheckpointInfo) => void {
  mkdirSync(dir, { recursive: true });
  return (cp) => {
    const name = `${String(cp.size).padStart(16, '0')}-${cp.id}.note`;
    try {
      writeFileSync(join(dir, name), cp.note, { flag: 'wx', mode: 0o444 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  };
}

/** The checkpoint notes in an anchor directory, ordered by size. */
export function readAnchors(dir: string): string[] {
  return readdirSync(dir)
    .filter((n) => n.endsWith('.note'))
    .sort()
    .map((n) => readFileSync(join(dir, n), 'utf8'));
}

/**
 * How much of the log the anchored notes cover: their number and the largest
 * size they claim (read from the note's size line, unverified: `verify`
 * checks each note's signature and root). For the verify report, so an
 * auditor sees an empty folder or a stale copy instead of a silent OK.
 */
export function anchorCoverage(notes: readonly string[]): { count: number; newestSize: number } {
  let newestSize = 0;
  for (const note of notes) {
    const size = note.split('\n')[1];
    if (size !== undefined && /^\d{1,15}$/.test(size)) newestSize = Math.max(newestSize, Number(size));
  }
  return { count: notes.length, newestSize };
}
