import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, freePort, gqlOk, services, signIn, spawnTs, withHeaders, type Spawned, type TestDatabase } from '@objectos/testkit';

const MAIN = 'gateway/src/main.ts';
const ENDPOINT = /GraphQL endpoint: (http:\/\/\S+)/;
const DEMO = /email: +(\S+)\n +password: +(\S+)/;
const N = 20;
const PASSWORD = 'Durable-Passw0rd-9';

const running: Spawned[] = [];
afterAll(async () => {
  await Promise.all(running.map((p) => p.kill('SIGKILL')));
});

interface Trail { auditEvents: { totalCount: number; edges: { node: { eventType: string; description: string; actor: { id: string | null } } }[] } }
const TRAIL = `query($w: AuditEventWhere) { auditEvents(where: $w, first: 500) { totalCount edges { node { eventType description actor { id } } } } }`;

/**
 * Issue #14's durability proof: N writes and N sign-ins acknowledged by a real ObjectOS process, the
 * process killed with SIGKILL at once (events may still be queued, published or not), a restart, and
 * then exactly N data.create and N sign-in events in the trail: nothing acknowledged lost, nothing twice.
 */
async function crashAndCount(env: Record<string, string>): Promise<void> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const base = { DATABASE_URL: '', REDIS_URL: '', NODE_ENV: 'development', PORT: String(port), OBJECTOS_OPERATORS: 'admin@objectos.local', ...env };
  const first = spawnTs(MAIN, base);
  running.push(first);
  await first.waitFor(ENDPOINT, 90_000);
  const demo = await first.waitFor(DEMO, 10_000);
  const from = new Date().toISOString();
  const token = await signIn(`${origin}/graphql`, demo[1]!, demo[2]!);
  const admin = withHeaders(`${origin}/graphql`, { authorization: `Bearer ${token}` });
  const post = (path: string, body: unknown) =>
    fetch(`${origin}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  // N people sign up (each an auth.login, "signed up"), then all at once: N writes and N sign-ins.
  const emails = Array.from({ length: N }, (_, i) => `durable-${i}@example.com`);
  for (const email of emails) expect((await post('/sign-up/email', { email, password: PASSWORD, name: email.split('@')[0] })).status).toBe(200);
  const acks = await Promise.all([
    ...Array.from({ length: N }, (_, i) => gqlOk<{ createAccount: { id: string } }>(admin, 'mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: `Crash ${i}` }).then(() => 'write')),
    ...emails.map((email) => post('/sign-in/email', { email, password: PASSWORD }).then((r) => (expect(r.status).toBe(200), 'sign-in'))),
  ]);
  expect(acks.filter((a) => a === 'write')).toHaveLength(N);
  expect(acks.filter((a) => a === 'sign-in')).toHaveLength(N);
  expect(await first.kill('SIGKILL')).toBeNull();

  const second = spawnTs(MAIN, base);
  running.push(second);
  await second.waitFor(ENDPOINT, 90_000);
  // The session survived; the operator sees every tenant's trail (the people who signed up have none).
  const count = async (): Promise<{ writes: number; signIns: number; signUps: number }> => {
    const writes = await gqlOk<Trail>(admin, TRAIL, { w: { eventType: ['data.create'], target: { type: 'account' }, from } });
    const logins = await gqlOk<Trail>(admin, TRAIL, { w: { eventType: ['auth.login'], from } });
    const people = logins.auditEvents.edges.map((e) => e.node);
    return {
      writes: writes.auditEvents.edges.filter((e) => e.node.description.startsWith('create account')).length,
      signIns: people.filter((e) => e.description === 'signed in').length - 1, // less the administrator's own
      signUps: people.filter((e) => e.description === 'signed up').length,
    };
  };
  let seen = await count();
  for (let i = 0; i < 50 && (seen.writes < N || seen.signIns < N); i++) {
    await new Promise((r) => setTimeout(r, 200));
    seen = await count();
  }
  expect(seen).toEqual({ writes: N, signIns: N, signUps: N });
  // Still exactly that once everything has been swept again.
  await new Promise((r) => setTimeout(r, 1_500));
  expect(await count()).toEqual({ writes: N, signIns: N, signUps: N });
  await second.kill('SIGTERM');
}

/** Two starts of a real process and 3N auth calls: minutes, not the default minute, on a loaded CI machine. */
const PROCESS_TEST_MS = 240_000;

describe('audit events survive kill -9: exactly N + N after a restart', () => {
  it('embedded (PGlite)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'objectos-audit-crash-'));
    try {
      await crashAndCount({ OBJECTOS_DATA_DIR: dir, OBJECTOS_SECRET_FILE: join(dir, 'secret') });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, PROCESS_TEST_MS);

  it.skipIf(!services.postgres)('PostgreSQL', async () => {
    const db: TestDatabase = await createTestDatabase();
    const dir = await mkdtemp(join(tmpdir(), 'objectos-audit-crash-pg-'));
    try {
      await crashAndCount({ DATABASE_URL: db.url, OBJECTOS_SECRET_FILE: join(dir, 'secret') });
    } finally {
      await db.drop();
      await rm(dir, { recursive: true, force: true });
    }
  }, PROCESS_TEST_MS);
});
