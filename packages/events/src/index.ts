export { auditEvent, type AuditChange, type AuditEvent, type AuditEventType, type Severity } from './audit-event.ts';
export { createEventBus, createMemoryEventBus, createRedisEventBus, type EventBus, type EventHandler } from './event-bus.ts';
export { createChannel, createMemoryChannel, createRedisChannel, type Channel } from './channel.ts';
export { createChangeFeed, type ChangeEvent, type ChangeFeed, type ChangeOperation } from './change-event.ts';
export { ensureEventTables, recordAuditEvents, recordAutomationEvents } from './event-tables.ts';
export { createAuditEmitter, type AuditEmitter } from './audit-emitter.ts';
export { createAccessDeniedAggregator, type AccessDenial, type AccessDeniedAggregator } from './access-denied.ts';
export { auditEventOfChange, nameUuid, type AutomationCause, type ChangeContext } from './change-audit.ts';
export { createSweeper, type Sweeper } from './sweeper.ts';
