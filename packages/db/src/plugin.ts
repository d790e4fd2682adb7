import { OBJECTOS_VERSION, definePlugin, type Plugin } from '@objectos/kernel';
import { connectDatabase, pingDatabase, type Database } from './connect.ts';

/** `database`: the engine a process's subgraphs share (PGlite allows a single owner of its folder). */
export function databasePlugin(options: { databaseUrl?: string; dataDir?: string; statementTimeoutMs?: number; readiness?: { register(name: string, check: () => Promise<void>): unknown } }): Plugin {
  let database: Database | null = null;
  return definePlugin({
    name: 'database', version: OBJECTOS_VERSION,
    implements: ['com.objectos.protocol.sql-engine.v1'],
    provides: [{ id: 'com.objectos.service.database', name: 'database', methods: ['run', 'close'] }],
    // A new PGlite folder runs initdb: tens of seconds on a slow, busy disk.
    timeoutMs: 180_000,
    async start(ctx) {
      database = await connectDatabase({
        ...(options.databaseUrl ? { databaseUrl: options.databaseUrl } : { dataDir: options.dataDir ?? 'memory://' }),
        ...(options.statementTimeoutMs ? { statementTimeoutMs: options.statementTimeoutMs } : {}),
      });
      ctx.registerService('database', database);
      const db = database;
      options.readiness?.register('database', () => pingDatabase(db));
    },
    async healthCheck() {
      const t0 = performance.now();
      await pingDatabase(database!);
      return { checks: [{ name: `${database!.engine} answers select 1`, status: 'passed', message: `${Math.round(performance.now() - t0)} ms` }] };
    },
    destroy: () => database?.close(),
  });
}
