import { createTestDatabase } from './pg.ts';
import { services } from './services.ts';

export interface EngineHandle {
  /** Options for createDataSubgraph / connectDatabase. */
  options: { databaseUrl?: string; dataDir?: string };
  cleanup(): Promise<void>;
}

export interface Engine {
  name: 'pglite' | 'postgres';
  open(): Promise<EngineHandle>;
}

/**
 * The engines a suite runs on: always embedded PGlite (in memory), plus real PostgreSQL when
 * DATABASE_URL is set, each in its own fresh database.
 */
export function engines(): Engine[] {
  const list: Engine[] = [{ name: 'pglite', open: async () => ({ options: { dataDir: 'memory://' }, cleanup: async () => {} }) }];
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
