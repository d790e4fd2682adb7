export { auditEvent, type AuditEvent, type AuditEventType, type Severity } from './audit-event.ts';
export { createEventBus, createMemoryEventBus, createRedisEventBus, type EventBus, type EventHandler } from './event-bus.ts';
