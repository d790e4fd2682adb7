import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTestDatabase } from './pg.ts';
import { services } from './services.ts';

export interface EngineHandle {
  /** Options for createDataSubgraph / connectDatabase. */
  options: { databaseUrl?: string; dataDir?: string };
  cleanup(): Promise<void>;
}

export interface Engine {
  name: 'pglite' | 'postgres';
  /** `persistent`: PGlite keeps its data in a temporary folder, so several connections see the same data. */
  open(options?: { persistent?: boolean }): Promise<EngineHandle>;
}

/**
 * The engines a suite runs on: always embedded PGlite (in memory), plus real PostgreSQL when
 * DATABASE_URL is set, each in its own fresh database.
 */
export function engines(): Engine[] {
  const list: Engine[] = [
    {
      name: 'pglite',
      async open({ persistent = false } = {}) {
        if (!persistent) return { options: { dataDir: 'memory://' }, cleanup: async () => {} };
        const dir = await mkdtemp(join(tmpdir(), 'objectos-pglite-'));
        return { options: { dataDir: dir }, cleanup: () => rm(dir, { recursive: true, force: true }) };
      },
    },
  ];
  if (services.postgres)
    list.push({
      name: 'postgres',
      async open() {
        const db = await createTestDatabase();
        return { options: { databaseUrl: db.url }, cleanup: () => db.drop() };
      },
    });
  return list;
}
