/**
 * The timer port: expiry and hold-mode timeouts are scheduled through it so
 * tests can drive time by hand (test-support.ts ManualTime). Timers are
 * unref'd: a pending expiry never keeps the process alive on shutdown.
 */
/** Opaque: whatever `set` returned. */
export type TimerHandle = object;

export interface Timers {
  set(fn: () => void, ms: number): TimerHandle;
  clear(handle: TimerHandle): void;
}

/** setTimeout's ceiling (2^31-1 ms, ~24.8 days); longer waits are re-armed. */
export const MAX_TIMER_MS = 2_147_483_647;

export const systemTimers: Timers = {
  set(fn, ms) {
    const t = setTimeout(fn, Math.max(0, Math.min(ms, MAX_TIMER_MS)));
    t.unref();
    return t;
  },
  clear(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};
