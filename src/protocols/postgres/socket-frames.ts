/**
 * Awaitable frame reading for the handshake phases. The relay phase does not
 * use this: it reads with 'data' events and explicit backpressure.
 */
import type { Socket } from 'node:net';
import { FrameReader, type Frame, type StartupFrame } from '../../wire/postgres/framer.ts';
import { GatewayError } from '../../shared/errors.ts';

export class SocketFrames {
  readonly reader: FrameReader;
  #error: Error | null = null;
  #ended = false;
  #wake: (() => void) | null = null;
  readonly #onData = (chunk: Buffer): void => {
    this.reader.push(chunk);
    this.#poke();
  };
  readonly #onEnd = (): void => {
    this.#ended = true;
    this.#poke();
  };
  readonly #onError = (e: Error): void => {
    this.#error = e;
    this.#poke();
  };

  constructor(
    readonly socket: Socket,
    maxMessageBytes: number,
    readonly timeoutMs: number,
    reader?: FrameReader,
  ) {
    this.reader = reader ?? new FrameReader({ maxMessageBytes });
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('close', this.#onEnd);
    socket.on('error', this.#onError);
    socket.resume();
  }

  #poke(): void {
    const w = this.#wake;
    this.#wake = null;
    w?.();
  }

  /** Stop reading; buffered bytes stay in `reader`, later ones stay in the socket. */
  release(): void {
    this.socket.pause();
    this.socket.off('data', this.#onData);
    this.socket.off('end', this.#onEnd);
    this.socket.off('close', this.#onEnd);
    this.socket.off('error', this.#onError);
  }

  nextStartup(): Promise<StartupFrame> {
    return this.#wait(() => this.reader.nextStartup());
  }

  next(): Promise<Frame> {
    return this.#wait(() => this.reader.next());
  }

  async #wait<T>(read: () => T | null): Promise<T> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const v = read(); // throws GW_FRAME_* on bad input
      if (v !== null) return v;
      if (this.#error) throw new GatewayError('GW_UPSTREAM_PROTOCOL', `connection error: ${this.#error.message}`, { cause: this.#error });
      if (this.#ended) throw new GatewayError('GW_FRAME_MALFORMED', 'connection closed during handshake', { clientSafe: true });
      const left = deadline - Date.now();
      if (left <= 0) throw new GatewayError('GW_FRAME_MALFORMED', 'handshake timed out', { clientSafe: true });
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }
}
