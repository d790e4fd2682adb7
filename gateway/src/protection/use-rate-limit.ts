import { Redis } from 'ioredis';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Plugin } from 'graphql-yoga';
import { metrics } from '@objectos/observability';
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
  /** The bucket of a request. @default the client IP (IPv6 by /64) */
  key?: (request: Request, serverContext: unknown) => string;
  /** The limit's name in objectos_rate_limit_rejections_total. @default 'requests' */
  name?: string;
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
export interface Limiter {
  /** Takes one point from `key`'s budget; null when allowed, else the seconds to wait. */
  consume(key: string): Promise<number | null>;
  ready: Promise<void>;
  close(): Promise<void>;
}

/**
 * A budget of `points` per key and window, in Redis (shared by replicas) or in memory. If Redis is
 * unreachable, each process falls back to its own in-memory limit rather than letting everything through.
 * Every refusal is counted under the limit's `name` (never its key: that is a user, a key or an address).
 */
export function createLimiter(o: { name: string; points: number; durationSeconds: number; keyPrefix: string; redisUrl?: string | undefined }): Limiter {
  const memory = new RateLimiterMemory({ points: o.points, duration: o.durationSeconds, keyPrefix: o.keyPrefix });
  let redis: Redis | null = null;
  let limiter: RateLimiterAbstract = memory;
  if (o.redisUrl) {
    redis = new Redis(o.redisUrl, { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: false });
    redis.on('error', () => {}); // reconnects by itself; the insurance limiter covers the gap
    limiter = new RateLimiterRedis({ storeClient: redis, points: o.points, duration: o.durationSeconds, keyPrefix: o.keyPrefix, insuranceLimiter: memory });
  }
  const ready = !redis
    ? Promise.resolve()
    : new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`rate limiting: Redis at ${redactUrl(o.redisUrl!)} did not answer within 5 s`)), 5_000);
        redis!.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
  return {
    ready,
    async consume(key) {
      try {
        await limiter.consume(key);
        return null;
      } catch (e) {
        if (!(e instanceof RateLimiterRes)) throw e;
        if (metrics.metricsEnabled()) metrics.rateLimitRejections.inc({ limit: o.name });
        return Math.max(1, Math.ceil(e.msBeforeNext / 1000));
      }
    },
    async close() {
      if (redis) await redis.quit().catch(() => redis?.disconnect());
    },
  };
}

export function tooManyRequests(retryAfter: number, what = 'requests'): Response {
  return Response.json(
    { errors: [{ message: `Too many ${what}: try again in ${retryAfter} s`, extensions: { code: 'RATE_LIMITED', retryAfter } }] },
    { status: 429, headers: { 'retry-after': String(retryAfter) } },
  );
}

/**
 * Requests per client and window, refused with 429 and Retry-After before anything is parsed. The
 * bucket is the principal (user or API key) once authenticated, else the client IP.
 */
export function createRateLimit(options: RateLimitOptions = {}): RateLimit {
  const { points = 600, durationSeconds = 60, redisUrl, keyPrefix = 'objectos:rl', trustProxy = false, name = 'requests' } = options;
  const key = options.key ?? ((request, ctx) => ipKey(clientAddress(request, ctx, trustProxy)));
  const limiter = createLimiter({ name, points, durationSeconds, keyPrefix, redisUrl });
  return {
    ready: limiter.ready,
    plugin: {
      async onRequest({ request, serverContext, endResponse }) {
        const retryAfter = await limiter.consume(key(request, serverContext));
        if (retryAfter !== null) endResponse(tooManyRequests(retryAfter));
      },
    },
    close: () => limiter.close(),
  };
}

const redactUrl = (url: string): string => url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
