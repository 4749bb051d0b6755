/**
 * Listen addresses in config: `host:port`, IPv6 in brackets (`[::1]:15432`).
 * The host is required on purpose: an implicit 0.0.0.0 would expose the
 * gateway on every interface, so binding widely has to be written down.
 */
import { isIP } from 'node:net';
import { GatewayError } from '../shared/errors.ts';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export const HOST_PORT_HINT = 'expected host:port, e.g. 127.0.0.1:15432 or [::1]:15432';
const HOSTNAME = /^[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/;

/** Parses `host:port`. Port 0 is allowed (the OS picks one; useful in tests). Throws GW_CONFIG_INVALID. */
export function parseHostPort(s: string): HostPort {
  const text = s.trim();
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  const host = m?.[1];
  const port = Number(m?.[2]);
  if (host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new GatewayError('GW_CONFIG_INVALID', HOST_PORT_HINT);
  }
  const bracketed = text.startsWith('[');
  if (bracketed ? isIP(host) !== 6 : !(isIP(host) === 4 || HOSTNAME.test(host))) {
    throw new GatewayError('GW_CONFIG_INVALID', HOST_PORT_HINT);
  }
  return { host, port };
}

export { parseSize } from './size.ts';
