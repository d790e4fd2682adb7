import { Redis } from 'ioredis';

/**
 * A publish/subscribe channel of JSON messages: in process when embedded, Redis pub/sub across
 * processes in services mode. Delivery is at most once; what must not be lost is stored first (the
 * outbox, the audit trail) and the channel only carries it to whoever is listening now.
 */
export interface Channel<T> {
  publish(message: T): Promise<void>;
  /** Returns an unsubscribe. A handler that throws does not stop delivery to the others. */
  subscribe(handler: (message: T) => void): () => void;
  /** Resolves once the channel can deliver (Redis subscription confirmed). */
  ready: Promise<void>;
  close(): Promise<void>;
}

function dispatch<T>(handlers: Set<(m: T) => void>, message: T): void {
  for (const h of handlers) {
    try {
      h(message);
    } catch {
      // A failing consumer must not stop delivery to the others.
    }
  }
}

export function createMemoryChannel<T>(): Channel<T> {
  const handlers = new Set<(m: T) => void>();
  return {
    publish: async (message) => dispatch(handlers, message),
    subscribe(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
    },
    ready: Promise.resolve(),
    close: async () => handlers.clear(),
  };
}

export function createRedisChannel<T>(url: string, channel: string): Channel<T> {
  const pub = new Redis(url, { lazyConnect: false, maxRetriesPerRequest: 2 });
  const sub = new Redis(url, { lazyConnect: false });
  const handlers = new Set<(m: T) => void>();
  pub.on('error', () => {});
  sub.on('error', () => {});
  sub.on('message', (ch: string, message: string) => {
    if (ch !== channel) return;
    let parsed: T;
    try {
      parsed = JSON.parse(message) as T;
    } catch {
      return; // Not one of ours.
    }
    dispatch(handlers, parsed);
  });
  const ready = sub.subscribe(channel).then(() => undefined);
  return {
    publish: async (message) => {
      await pub.publish(channel, JSON.stringify(message));
    },
    subscribe(handler) {
      handlers.add(handler);
      return () => handlers.delete(handler);
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
export function createChannel<T>(channel: string, redisUrl?: string): Channel<T> {
  return redisUrl ? createRedisChannel<T>(redisUrl, channel) : createMemoryChannel<T>();
}
