import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Plugin } from 'graphql-yoga';
import { clientAddress, ipKey } from './client-ip.ts';

export interface RateLimitOptions {
  /** Requests allowed per window and client. @default 600 */
  points?: number;
  /** Window length. @default 60 */
  durationSeconds?: number;
  /** Redis URL: share the budget across gateway replicas (services mode). Memory otherwise. */
  redisUrl?: string;
  /** Redis key prefix. @default 'objectos:rl' */
  keyPrefix?: string;
  /** Take the client address from X-Forwarded-For (only behind a proxy you run). @default false */
  trustProxy?: boolean;
  /** The bucket of a request. @default the client IP (IPv6 by /64); the principal once identity lands */
  key?: (request: Request, serverContext: unknown) => string;
}

export interface RateLimit {
  plugin: Plugin;
  /** Resolves when the store is usable; rejects with a clear message when Redis cannot be reached. */
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * Requests per client and window, refused with 429 and Retry-After before anything is parsed.
 * With Redis, every replica shares one budget; if Redis is unreachable, each process falls back to its
 * own in-memory limit rather than letting everything through.
 */
export function createRateLimit(options: RateLimitOptions = {}): RateLimit {
  const { points = 600, durationSeconds = 60, redisUrl, keyPrefix = 'objectos:rl', trustProxy = false } = options;
  const key = options.key ?? ((request, ctx) => ipKey(clientAddress(request, ctx, trustProxy)));
  const memory = new RateLimiterMemory({ points, duration: durationSeconds, keyPrefix });
  let redis: Redis | null = null;
  let limiter: RateLimiterAbstract = memory;
  if (redisUrl) {
    redis = new Redis(redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
    redis.on('error', () => {}); // reconnects by itself; the insurance limiter covers the gap
    limiter = new RateLimiterRedis({ storeClient: redis, points, duration: durationSeconds, keyPrefix, insuranceLimiter: memory });
  }
  const ready = !redis
    ? Promise.resolve()
    : new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`rate limiting: Redis at ${redactUrl(redisUrl!)} did not answer within 5 s`)), 5_000);
        redis!.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
  return {
    ready,
    plugin: {
      async onRequest({ request, serverContext, endResponse }) {
        try {
          await limiter.consume(key(request, serverContext));
        } catch (e) {
          if (!(e instanceof RateLimiterRes)) throw e;
          const retryAfter = Math.max(1, Math.ceil(e.msBeforeNext / 1000));
          endResponse(Response.json(
            { errors: [{ message: `Too many requests: try again in ${retryAfter} s`, extensions: { code: 'RATE_LIMITED', retryAfter } }] },
            { status: 429, headers: { 'retry-after': String(retryAfter) } },
          ));
        }
      },
    },
    async close() {
      if (redis) await redis.quit().catch(() => redis?.disconnect());
    },
  };
}

const redactUrl = (url: string): string => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
