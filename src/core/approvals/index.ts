export * from './model.ts';
export * from './store.ts';
export type * from './types.ts';
export { MemoryApprovalStore } from './memory-store.ts';
export { systemTimers, MAX_TIMER_MS, type Timers, type TimerHandle } from './timers.ts';
export { checkApprover, normaliseReason, MAX_REASON_LENGTH } from './rules.ts';
export { ApprovalService, type ApprovalServiceDeps } from './service.ts';
export { endSessionsOnGrantEnd, defaultDependsOn, killReason, type GrantKillReason } from './session-binding.ts';
