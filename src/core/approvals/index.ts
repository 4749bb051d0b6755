export * from './model.ts';
export * from './store.ts';
export { MemoryApprovalStore } from './memory-store.ts';
export { systemTimers, MAX_TIMER_MS, type Timers, type TimerHandle } from './timers.ts';
export { checkApprover, normaliseReason, MAX_REASON_LENGTH } from './rules.ts';
export {
  ApprovalService,
  type ApprovalServiceDeps,
  type ApprovalChange,
  type ActiveGrant,
  type ConsumeInput,
  type GrantEndReason,
  type GrantRequestInput,
  type GrantTerms,
  type RequestInput,
  type WaitResult,
} from './service.ts';
export { endSessionsOnGrantEnd, defaultDependsOn, killReason, type GrantKillReason } from './session-binding.ts';
