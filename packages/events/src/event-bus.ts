import type { AuditEvent } from './audit-event.ts';
import { createMemoryChannel, createRedisChannel, type Channel } from './channel.ts';

export type EventHandler = (event: AuditEvent) => void;

/**
 * The internal event bus of audit events (auth, authz, security): in process when embedded, Redis
 * pub/sub across processes in services mode. Delivery is at most once (pub/sub); consumers that must
 * not miss events read the durable store — the bus is for reacting quickly (cache eviction, sockets).
 */
export interface EventBus {
  publish(event: AuditEvent): Promise<void>;
  /** Handler for every event whose type starts with `prefix` ('' = all). Returns an unsubscribe. */
  subscribe(prefix: string, handler: EventHandler): () => void;
  /** Resolves once the bus can deliver (Redis subscription confirmed). */
  ready: Promise<void>;
  close(): Promise<void>;
}

const CHANNEL = 'objectos:events';

function busOver(channel: Channel<AuditEvent>): EventBus {
  return {
    publish: (event) => channel.publish(event),
    subscribe: (prefix, handler) => channel.subscribe((e) => {
      if (typeof e?.eventType === 'string' && e.eventType.startsWith(prefix)) handler(e);
    }),
    ready: channel.ready,
    close: () => channel.close(),
  };
}

export const createMemoryEventBus = (): EventBus => busOver(createMemoryChannel<AuditEvent>());
export const createRedisEventBus = (url: string, channel = CHANNEL): EventBus => busOver(createRedisChannel<AuditEvent>(url, channel));

/** Redis when a URL is given, else in process. */
export function createEventBus(redisUrl?: string, channel?: string): EventBus {
  return redisUrl ? createRedisEventBus(redisUrl, channel) : createMemoryEventBus();
}
