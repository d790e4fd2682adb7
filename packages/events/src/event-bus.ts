import { EventEmitter } from 'node:events';
import { Redis } from 'ioredis';
import type { AuditEvent } from './audit-event.ts';

export type EventHandler = (event: AuditEvent) => void;

/**
 * The internal event bus: in process when embedded, Redis pub/sub across processes in services mode.
 * Delivery is at most once (pub/sub); consumers that must not miss events read the durable store
 * (the audit subgraph) — the bus is for reacting quickly (cache eviction, live updates).
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

function dispatch(handlers: Set<{ prefix: string; handler: EventHandler }>, event: AuditEvent): void {
  for (const h of handlers) {
    if (!event.eventType.startsWith(h.prefix)) continue;
    try {
      h.handler(event);
    } catch {
      // A failing consumer must not stop delivery to the others.
    }
  }
}

export function createMemoryEventBus(): EventBus {
  const emitter = new EventEmitter();
  const handlers = new Set<{ prefix: string; handler: EventHandler }>();
  emitter.on('event', (e: AuditEvent) => dispatch(handlers, e));
  return {
    publish: async (event) => {
      emitter.emit('event', event);
    },
    subscribe(prefix, handler) {
      const h = { prefix, handler };
      handlers.add(h);
      return () => handlers.delete(h);
    },
    ready: Promise.resolve(),
    close: async () => handlers.clear(),
  };
}

export function createRedisEventBus(url: string, channel = CHANNEL): EventBus {
  const pub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 });
  const sub = new Redis(url, { lazyConnect: false });
  const handlers = new Set<{ prefix: string; handler: EventHandler }>();
  pub.on('error', () => {});
  sub.on('error', () => {});
  sub.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    try {
      dispatch(handlers, JSON.parse(message) as AuditEvent);
    } catch {
      // Not one of ours.
    }
  });
  const ready = sub.subscribe(channel).then(() => undefined);
  return {
    publish: async (event) => {
      await pub.publish(channel, JSON.stringify(event));
    },
    subscribe(prefix, handler) {
      const h = { prefix, handler };
      handlers.add(h);
      return () => handlers.delete(h);
    },
    ready,
    async close() {
      handlers.clear();
      sub.disconnect();
      pub.disconnect();
    },
  };
}

/** Redis when a URL is given, else in process. */
export function createEventBus(redisUrl?: string, channel?: string): EventBus {
  return redisUrl ? createRedisEventBus(redisUrl, channel) : createMemoryEventBus();
}
