// A minimal Postgres wire client for tests that need exact control of the
// extended protocol (Execute without Describe, row limits, result formats)
// and the raw bytes the server sent; plus a TCP proxy that records what a
// real client (node-postgres) received.

import net from 'node:net';

export interface Msg {
  type: string;
  payload: Buffer;
}

function frame(type: string, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(5 + payload.length);
  b[0] = type.charCodeAt(0);
  b.writeInt32BE(payload.length + 4, 1);
  payload.copy(b, 5);
  return b;
}

const cstr = (s: string): Buffer => Buffer.from(s + '\0', 'utf8');
const i16 = (n: number): Buffer => {
  const b = Buffer.alloc(2);
  b.writeInt16BE(n);
  return b;
};
const i32 = (n: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(n);
  return b;
};

export const msg = {
  query: (sql: string): Buffer => frame('Q', cstr(sql)),
  parse: (name: string, sql: string): Buffer => frame('P', Buffer.concat([cstr(name), cstr(sql), i16(0)])),
  bind: (portal: string, stmt: string, params: (string | null)[] = [], resultFormats: number[] = []): Buffer =>
    frame(
      'B',
      Buffer.concat([
        cstr(portal),
        cstr(stmt),
        i16(0),
        i16(params.length),
        ...params.flatMap((p) => (p === null ? [i32(-1)] : [i32(Buffer.byteLength(p)), Buffer.from(p)])),
        i16(resultFormats.length),
        ...resultFormats.map(i16),
      ]),
    ),
  describe: (target: 'S' | 'P', name: string): Buffer => frame('D', Buffer.concat([Buffer.from(target), cstr(name)])),
  execute: (portal: string, maxRows = 0): Buffer => frame('E', Buffer.concat([cstr(portal), i32(maxRows)])),
  close: (target: 'S' | 'P', name: string): Buffer => frame('C', Buffer.concat([Buffer.from(target), cstr(name)])),
  sync: (): Buffer => frame('S', Buffer.alloc(0)),
  flush: (): Buffer => frame('H', Buffer.alloc(0)),
};

export class RawPg {
  readonly #socket: net.Socket;
  #buf = Buffer.alloc(0);
  #msgs: Msg[] = [];
  #waiters: (() => void)[] = [];
  /** Every byte received after start-up. */
  received = Buffer.alloc(0);
  #started = false;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (d: Buffer) => {
      if (this.#started) this.received = Buffer.concat([this.received, d]);
      this.#buf = Buffer.concat([this.#buf, d]);
      while (this.#buf.length >= 5) {
        const len = this.#buf.readInt32BE(1);
        if (this.#buf.length < 1 + len) break;
        this.#msgs.push({ type: String.fromCharCode(this.#buf[0]!), payload: this.#buf.subarray(5, 1 + len) });
        this.#buf = this.#buf.subarray(1 + len);
      }
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async connect(port: number, database: string, user: string, password: string): Promise<RawPg> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise<void>((res, rej) => socket.once('connect', res).once('error', rej));
    const c = new RawPg(socket);
    const params = Buffer.concat([cstr('user'), cstr(user), cstr('database'), cstr(database), Buffer.from([0])]);
    const startup = Buffer.concat([i32(8 + params.length), i32(196608), params]);
    socket.write(startup);
    const auth = await c.next();
    if (auth.type !== 'R') throw new Error(`expected authentication request, got ${auth.type}: ${auth.payload.toString()}`);
    socket.write(frame('p', cstr(password)));
    for (;;) {
      const m = await c.next();
      if (m.type === 'E') throw new Error(`login failed: ${m.payload.toString()}`);
      if (m.type === 'Z') break;
    }
    c.#started = true;
    c.received = Buffer.alloc(0);
    return c;
  }

  async next(timeoutMs = 20_000): Promise<Msg> {
    const end = Date.now() + timeoutMs;
    while (this.#msgs.length === 0) {
      if (Date.now() > end) throw new Error('RawPg: no message in time');
      await new Promise<void>((res) => {
        this.#waiters.push(res);
        setTimeout(res, 200).unref();
      });
    }
    return this.#msgs.shift()!;
  }

  send(...messages: Buffer[]): void {
    this.#socket.write(Buffer.concat(messages));
  }

  /** Sends `messages` and collects everything up to (and including) the `count`th ReadyForQuery. */
  async exchange(messages: Buffer[], count = 1): Promise<Msg[]> {
    this.send(...messages);
    const out: Msg[] = [];
    let seen = 0;
    while (seen < count) {
      const m = await this.next();
      out.push(m);
      if (m.type === 'Z') seen++;
    }
    return out;
  }

  end(): void {
    this.#socket.end(frame('X', Buffer.alloc(0)));
  }
}

/** DataRow values as strings (text format) or raw buffers. */
export function dataRow(m: Msg): (Buffer | null)[] {
  const n = m.payload.readUInt16BE(0);
  const out: (Buffer | null)[] = [];
  let pos = 2;
  for (let i = 0; i < n; i++) {
    const len = m.payload.readInt32BE(pos);
    pos += 4;
    if (len < 0) out.push(null);
    else {
      out.push(m.payload.subarray(pos, pos + len));
      pos += len;
    }
  }
  return out;
}

export function errorFields(m: Msg): Map<string, string> {
  const f = new Map<string, string>();
  let pos = 0;
  while (m.payload[pos] !== 0) {
    const code = String.fromCharCode(m.payload[pos]!);
    const end = m.payload.indexOf(0, pos + 1);
    f.set(code, m.payload.subarray(pos + 1, end).toString());
    pos = end + 1;
  }
  return f;
}

/** A TCP proxy in front of `targetPort` that records every byte sent back to clients. */
export async function recordingProxy(targetPort: number): Promise<{ port: number; received(): Buffer; reset(): void; close(): Promise<void> }> {
  let chunks: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const up = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(up);
    client.on('data', (d) => up.write(d));
    up.on('data', (d: Buffer) => {
      chunks.push(d);
      client.write(d);
    });
    const end = (): void => {
      client.destroy();
      up.destroy();
    };
    client.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    received: () => Buffer.concat(chunks),
    reset: () => (chunks = []),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
