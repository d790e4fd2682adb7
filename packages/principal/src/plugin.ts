import { OBJECTOS_VERSION, definePlugin, type Plugin } from '@objectos/kernel';
import { createLogger } from '@objectos/observability';
import { createReplayStore, type ReplayStore } from './replay-store.ts';

/**
 * `principal-guard`: which gateway signatures this process (and, with Redis, every replica) already
 * accepted, so each is used once. A Redis failure narrows single use to this process: said in the log.
 */
export function principalGuardPlugin(redisUrl: string | undefined): Plugin {
  let replay: ReplayStore | null = null;
  return definePlugin({
    name: 'principal-guard', version: OBJECTOS_VERSION,
    provides: [{ id: 'com.objectos.service.replay-store', name: 'replay', methods: ['claim'] }],
    async start(ctx) {
      const log = createLogger('principal-guard');
      replay = createReplayStore(redisUrl, { onError: (e) => log.warn({ err: e.message }, 'signature replay store unavailable: single use checked in this process only') });
      await replay.ready;
      ctx.registerService('replay', replay);
    },
    destroy: () => replay?.close(),
  });
}
