/**
 * The response to AuthenticationMD5Password
 * (https://www.postgresql.org/docs/current/protocol-flow.html#PROTOCOL-FLOW-START-UP):
 * "md5" + md5hex(md5hex(password + username) + salt), where the salt is the
 * 4 raw bytes from the server. Same as libpq's pg_md5_encrypt applied twice.
 * MD5 auth is deprecated upstream; it is supported only for older servers.
 */
import { createHash } from 'node:crypto';
import { GatewayError } from '../../shared/errors.ts';

export function md5Password(user: string, password: string, salt: Buffer): string {
  if (salt.length !== 4) throw new GatewayError('GW_UPSTREAM_PROTOCOL', `MD5 salt must be 4 bytes, got ${salt.length}`);
  const inner = createHash('md5').update(password, 'utf8').update(user, 'utf8').digest('hex');
  return 'md5' + createHash('md5').update(inner, 'latin1').update(salt).digest('hex');
}
