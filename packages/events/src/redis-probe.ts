import { Redis } from 'ioredis';

/**
 * Whether Redis answers, for readiness: its own small connection (no offline queue, no retries), so a
 * probe never waits behind the process's own commands and fails at once while Redis is unreachable.
 * It reconnects by itself when Redis is back.
 */
export interface RedisProbe {
  /** Resolves when Redis answers PING; rejects (without the URL) when it does not. */
  ping(signal?: AbortSignal): Promise<void>;
  close(): Promise<void>;
}

export function createRedisProbe(url: string): RedisProbe {
  const redis = new Redis(url, {
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1_000,
    // Back within a second of Redis coming back.
    retryStrategy: (times) => Math.min(times * 100, 1_000),
  });
  redis.on('error', () => {});
  const connected = (signal?: AbortSignal) => new Promise<void>((resolve, reject) => {
    if (redis.status === 'ready') return resolve();
    if (redis.status !== 'connecting' && redis.status !== 'connect' && redis.status !== 'wait') return reject(new Error(`Redis unreachable (${redis.status})`));
    const done = () => {
      redis.off('ready', done);
      signal?.removeEventListener('abort', done);
      if (redis.status === 'ready') resolve();
      else reject(new Error('Redis unreachable (connecting)'));
    };
    redis.once('ready', done);
    signal?.addEventListener('abort', done, { once: true });
  });
  return {
    async ping(signal) {
      await connected(signal);
      try {
        const answer = await redis.ping();
        if (answer !== 'PONG') throw new Error(`Redis answered ${answer}`);
      } catch (e) {
        throw new Error(`Redis unreachable: ${e instanceof Error ? e.message : String(e)}`);
      }
    },
    async close() {
      redis.disconnect();
    },
  };
}

/** A `redis` readiness check when `url` is set (the probe, to close at shutdown), else null. */
export function registerRedisProbe(readiness: { register(name: string, check: (signal: AbortSignal) => Promise<void>): unknown }, url: string | undefined): RedisProbe | null {
  if (!url) return null;
  const probe = createRedisProbe(url);
  readiness.register('redis', (signal) => probe.ping(signal));
  return probe;
}
