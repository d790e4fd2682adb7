export { connectDatabase, pingDatabase, queryRows, type Database, type DatabaseOptions, type Db, type SqlRunner } from './connect.ts';
export { ident, literal } from './sql-text.ts';
export {
  ensureSecurityTables, loadMemberAccess, loadOrganizationRoles, saveMemberAccess, splitRoles, type MemberAccess,
} from './security-tables.ts';
export { claimEffect, ensureEffectTable, noteEffectRecord } from './effects.ts';
export { groupCalls } from './group-calls.ts';
export { ensureStateHistoryTable, recordStateTransition, type StateTransitionRow } from './state-history.ts';
export { approvalLockOf, ensureApprovalTables, type ApprovalLock } from './approval-tables.ts';
export { databasePlugin } from './plugin.ts';
