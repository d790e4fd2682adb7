import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { services } from './services.ts';

export interface TestDatabase {
  url: string;
  name: string;
  drop(): Promise<void>;
}

/** A fresh PostgreSQL database for one test file, dropped afterwards, so runs never interfere. */
export async function createTestDatabase(prefix = 'objectos_t'): Promise<TestDatabase> {
  if (!services.postgres) throw new Error('createTestDatabase needs DATABASE_URL');
  const name = `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: services.postgres });
  await admin.connect();
  try {
    await admin.query(`create database "${name}"`);
  } finally {
    await admin.end();
  }
  const url = new URL(services.postgres);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: services.postgres! });
      await c.connect();
      try {
        await c.query(`drop database if exists "${name}" with (force)`);
      } finally {
        await c.end();
      }
    },
  };
}
