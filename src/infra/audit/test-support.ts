/** Helpers for the audit store tests (not used at runtime). */
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { AuditLog, type AuditLogOptions } from './sqlite-log.ts';

export const ORIGIN = 'gatehouse.test/audit';
export const testKey: KeyObject = generateKeyPairSync('ed25519').privateKey;

export function tempDir(prefix = 'gh-audit-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function openLog(stateDir: string, extra: Partial<AuditLogOptions> = {}): AuditLog {
  return AuditLog.open({ stateDir, instance: 'gw-test', signingKey: testKey, keyName: ORIGIN, ...extra });
}

/** The log's database handle, for tests that tamper with or break the store. */
export function dbOf(log: AuditLog): Database.Database {
  return (log as unknown as { db: Database.Database }).db;
}
