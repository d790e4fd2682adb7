export { auditEvent, type AuditEvent, type AuditEventType, type Severity } from './audit-event.ts';
export { createEventBus, createMemoryEventBus, createRedisEventBus, type EventBus, type EventHandler } from './event-bus.ts';
export { createChannel, createMemoryChannel, createRedisChannel, type Channel } from './channel.ts';
export { createChangeFeed, type ChangeEvent, type ChangeFeed, type ChangeOperation } from './change-event.ts';
