import { Redis } from 'ioredis';

/**
 * Remembers the signatures a subgraph accepted until they go stale, so each is accepted once:
 * a captured header pair cannot be sent again, even with the very same body.
 */
export interface ReplayStore {
  /** True the first time `id` is claimed within `ttlMs`, false on every later claim. */
  claim(id: string, ttlMs: number): Promise<boolean>;
  /** Resolves once the store is connected (Redis). */
  ready: Promise<void>;
  close(): Promise<void>;
}

/** One process's memory: enough when every replica has its own gateway calls (embedded mode). */
export function createMemoryReplayStore(): ReplayStore {
  // id → expiry. TTLs are all about one window long, so insertion order is nearly expiry order and
  // pruning from the front keeps the map at one window's worth of calls.
  const seen = new Map<string, number>();
  return {
    async claim(id, ttlMs) {
      const now = Date.now();
      for (const [k, exp] of seen) {
        if (exp > now) break;
        seen.delete(k);
      }
      const exp = seen.get(id);
      if (exp !== undefined && exp > now) return false;
      seen.set(id, now + Math.max(1, ttlMs));
      return true;
    },
    ready: Promise.resolve(),
    close: async () => seen.clear(),
  };
}

export interface RedisReplayStoreOptions {
  /** @default 'objectos:sig:' */
  keyPrefix?: string;
  /** Redis failed a claim: this process's memory decided alone. */
  onError?: (error: Error) => void;
}

/**
 * Shared by every replica of a subgraph (services mode): `SET <prefix><id> 1 PX ttl NX`. Claims are
 * also kept in this process's memory, which decides alone while Redis is unreachable, so an outage
 * narrows single use to one process instead of refusing every call.
 */
export function createRedisReplayStore(url: string, options: RedisReplayStoreOptions = {}): ReplayStore {
  const { keyPrefix = 'objectos:sig:', onError } = options;
  const redis = new Redis(url, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
  redis.on('error', () => {});
  const memory = createMemoryReplayStore();
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('replay store: Redis did not answer within 5 s')), 5_000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  // Callers that do not wait for it must not get an unhandled rejection.
  ready.catch(() => {});
  return {
    async claim(id, ttlMs) {
      if (!(await memory.claim(id, ttlMs))) return false;
      try {
        return (await redis.set(`${keyPrefix}${id}`, '1', 'PX', Math.max(1, Math.ceil(ttlMs)), 'NX')) === 'OK';
      } catch (e) {
        onError?.(e as Error);
        return true;
      }
    },
    ready,
    async close() {
      await memory.close();
      redis.disconnect();
    },
  };
}

/** Redis when a URL is given (replicas share what they accepted), else this process's memory. */
export function createReplayStore(redisUrl?: string, options: RedisReplayStoreOptions = {}): ReplayStore {
  return redisUrl ? createRedisReplayStore(redisUrl, options) : createMemoryReplayStore();
}
