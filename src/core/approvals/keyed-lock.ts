/**
 * Serialises async work per key (one approval or grant id), so two decisions
 * on the same record in this process never interleave between "read",
 * "append audit event" and "store". Across processes the store's
 * compare-and-set on `version` is the guard.
 */
export class KeyedLock {
  readonly #tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.#tails.get(key) ?? Promise.resolve();
    const result = prev.then(fn, fn);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, tail);
    // Drop the entry once nothing else queued behind it, so the map stays bounded by in-flight keys.
    void tail.then(() => {
      if (this.#tails.get(key) === tail) this.#tails.delete(key);
    });
    return result;
  }
}
