import { OBJECTOS_VERSION, definePlugin, type Plugin } from '@objectos/kernel';
import { createChannel, type Channel } from './channel.ts';
import { createChangeFeed, type ChangeFeed } from './change-event.ts';
import { createEventBus, type EventBus } from './event-bus.ts';
import { registerRedisProbe, type RedisProbe } from './redis-probe.ts';

/** `events`: the event bus (auth events, audit) — in process, or Redis pub/sub between replicas. */
export function eventsPlugin(redisUrl: string | undefined): Plugin {
  let bus: EventBus | null = null;
  return definePlugin({
    name: 'events', version: OBJECTOS_VERSION,
    provides: [{ id: 'com.objectos.service.event-bus', name: 'bus', methods: ['publish', 'subscribe'], events: ['auth.*', 'security.*'] }],
    async start(ctx) {
      bus = createEventBus(redisUrl);
      await bus.ready;
      ctx.registerService('bus', bus);
    },
    healthCheck: () => ({ checks: [{ name: redisUrl ? 'Redis pub/sub' : 'in-process bus', status: 'passed' }] }),
    destroy: () => bus?.close(),
  });
}

/** `realtime`: committed record changes for subscriptions, and presence (Redis between replicas in services mode). */
export function realtimePlugin(redisUrl: string | undefined): Plugin {
  let feed: ChangeFeed | null = null;
  let presence: Channel<unknown> | null = null;
  return definePlugin({
    name: 'realtime', version: OBJECTOS_VERSION,
    implements: ['com.objectos.protocol.graphql-ws.v1'],
    provides: [{ id: 'com.objectos.service.change-feed', name: 'changeFeed', methods: ['publish', 'subscribe'], events: ['record.created', 'record.updated', 'record.deleted'] }],
    async start(ctx) {
      feed = createChangeFeed(redisUrl);
      presence = createChannel<unknown>('objectos:presence', redisUrl);
      await Promise.all([feed.ready, presence.ready]);
      ctx.registerService('changeFeed', feed);
      ctx.registerService('presenceChannel', presence);
    },
    healthCheck: () => ({ checks: [{ name: redisUrl ? 'Redis change feed' : 'in-process change feed', status: 'passed' }] }),
    destroy: async () => {
      await feed?.close();
      await presence?.close();
    },
  });
}

/** `redis`: the readiness probe of the Redis a process uses (none without REDIS_URL). */
export function redisProbePlugin(readiness: Parameters<typeof registerRedisProbe>[0], redisUrl: string | undefined): Plugin {
  let probe: RedisProbe | null = null;
  return definePlugin({
    name: 'redis', version: OBJECTOS_VERSION,
    provides: [{ id: 'com.objectos.service.redis-probe', name: 'redis' }],
    start() {
      probe = registerRedisProbe(readiness, redisUrl);
    },
    async healthCheck() {
      if (!probe) return { checks: [{ name: 'redis', status: 'passed', message: 'not used (no REDIS_URL)' }] };
      await probe.ping(AbortSignal.timeout(1_500));
      return { checks: [{ name: 'redis answers PING', status: 'passed' }] };
    },
    destroy: () => probe?.close(),
  });
}
