import pg from 'pg';
import { services } from './services.ts';

/** Says plainly, before any test runs, which service-backed suites will and will not run. */
export default async function setup(): Promise<void> {
  const lines: string[] = [];
  if (services.postgres) {
    const client = new pg.Client({ connectionString: services.postgres });
    try {
      await client.connect();
      await client.query('select 1');
      lines.push(`PostgreSQL: suites run on the embedded engine AND on ${redact(services.postgres)}`);
    } catch (e) {
      throw new Error(`DATABASE_URL is set but PostgreSQL does not answer (${(e as Error).message}); start it or unset DATABASE_URL`);
    } finally {
      await client.end().catch(() => {});
    }
  } else {
    lines.push('PostgreSQL: NOT RUN — DATABASE_URL is unset, so the PostgreSQL variants of the engine suites and the services-topology suite are skipped; only the embedded PGlite engine is tested');
  }
  lines.push(services.redis
    ? `Redis: shared rate-limit, change-event (replicas) and realtime-topology suites run on ${redact(services.redis)}`
    : 'Redis: NOT RUN — REDIS_URL is unset, so the shared (Redis) rate-limit suite, change events between data replicas and the realtime topology (processes) are skipped; the in-memory limits and the in-process change feed are tested');
  console.log(`\n[objectos] service-backed suites:\n  ${lines.join('\n  ')}\n`);
}

const redact = (url: string): string => url.replace(/\/\/([^:@/]+):[^@/]+@/, '//$1:***@');
