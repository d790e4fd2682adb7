import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient } from 'graphql-ws';
import { afterAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { freePort, gqlOk, signIn, spawnTs, TEST_SECRET, until, withHeaders, type Spawned } from '@objectos/testkit';

const MAIN = 'gateway/src/main.ts';
const ENDPOINT = /GraphQL endpoint: (http:\/\/\S+)/;

/**
 * One POST on a connection of its own (no keep-alive): either the connection is refused (the server
 * stopped accepting: the client knows nothing was done) or the request was accepted and its answer is
 * what the server did. `reset`: the connection closed without an answer.
 */
function post(url: string, token: string, body: unknown): Promise<{ kind: 'answered'; status: number; json: { data?: Record<string, { id: string } | null> | null; errors?: unknown[] } } | { kind: 'refused' | 'reset'; code: string }> {
  return new Promise((resolve) => {
    const payload = JSON.stringify(body);
    const req = httpRequest(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'content-length': Buffer.byteLength(payload), connection: 'close' } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => {
        try {
          resolve({ kind: 'answered', status: res.statusCode ?? 0, json: JSON.parse(text) });
        } catch {
          resolve({ kind: 'answered', status: res.statusCode ?? 0, json: { errors: [text.slice(0, 200)] } });
        }
      });
      res.on('error', (e: NodeJS.ErrnoException) => resolve({ kind: 'reset', code: e.code ?? e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ kind: e.code === 'ECONNREFUSED' ? 'refused' : 'reset', code: e.code ?? e.message }));
    req.end(payload);
  });
}

describe('graceful shutdown: SIGTERM under load (npm start, embedded PGlite, a real process)', () => {
  let dir = '';
  const running: Spawned[] = [];
  afterAll(async () => {
    for (const p of running) await p.kill('SIGKILL');
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('finishes requests in flight, closes sockets with 1001, loses no acknowledged write and no job', async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-shutdown-'));
    const env = { OBJECTOS_SECRET: TEST_SECRET, OBJECTOS_DATA_DIR: join(dir, 'data'), OBJECTOS_SECRET_FILE: join(dir, 'secret'), OBJECTOS_RATE_LIMIT: '0', HOST: '127.0.0.1' };
    const port = String(await freePort());
    // --empty: no demo seeding (minutes under a loaded CI run); an owner signs up and makes an organization.
    const first = spawnTs(MAIN, { ...env, PORT: port }, ['--empty']);
    running.push(first);
    const [, url] = await first.waitFor(ENDPOINT, 300_000);
    const endpoint = url!.replace('localhost', '127.0.0.1');
    const base = new URL(endpoint).origin;
    const email = 'owner@shutdown.test';
    const password = 'Sup3r-secret-pass!';
    const auth = (path: string, body: unknown, bearer?: string) =>
      fetch(`${base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) }, body: JSON.stringify(body) });
    const signedUp = await auth('/sign-up/email', { email, password, name: 'Sam Shutdown' });
    expect(signedUp.status, await signedUp.clone().text()).toBe(200);
    const token = await signIn(endpoint, email, password);
    const org = (await (await auth('/organization/create', { name: 'Shutdown Inc', slug: 'shutdown' }, token)).json()) as { id: string };
    await auth('/organization/set-active', { organizationId: org.id }, token);
    const as = withHeaders(endpoint, { authorization: `Bearer ${token}` });
    const accountId = (await gqlOk<{ createAccount: { id: string } }>(as, 'mutation { createAccount(input: { name: "Load Co" }) { id } }')).createAccount.id;

    // A live socket: told to go away (1001) so it reconnects elsewhere.
    const closed = new Promise<number>((resolve) => {
      const ws = createClient({ url: endpoint.replace('http', 'ws'), webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0, on: { closed: (e) => resolve((e as { code: number }).code) } });
      ws.subscribe({ query: 'subscription { accountChanged { op } }' }, { next: () => {}, error: () => {}, complete: () => {} });
    });
    await new Promise((r) => setTimeout(r, 500));

    // Load: 8 clients, each creating an opportunity and winning it (the rule queues two jobs per win).
    const created: string[] = [];
    const won: string[] = [];
    const failures: string[] = [];
    let refused = 0;
    let reset = 0;
    let inFlightAtSigterm = 0;
    let completedAcrossSigterm = 0;
    let sigtermAt = Infinity;
    let stop = false;
    const call = async (query: string, variables: Record<string, unknown>) => {
      const started = performance.now();
      const r = await post(endpoint, token, { query, variables });
      const spans = started < sigtermAt && performance.now() > sigtermAt;
      if (r.kind !== 'answered') {
        if (r.kind === 'refused') refused++;
        else reset++;
        stop = true;
        return null;
      }
      if (r.status !== 200 || r.json.errors?.length || !r.json.data) {
        failures.push(`${r.status} ${JSON.stringify(r.json).slice(0, 300)}`);
        return null;
      }
      if (spans) completedAcrossSigterm++;
      return r.json.data;
    };
    const client = async (n: number) => {
      for (let i = 0; !stop; i++) {
        const made = await call('mutation($i: OpportunityCreateInput!) { createOpportunity(input: $i) { id } }', { i: { name: `Load ${n}-${i}`, stage: 'prospecting', accountId } });
        const id = made?.['createOpportunity']?.id;
        if (!id) continue;
        created.push(id);
        const upd = await call(`mutation($id: ID!) { updateOpportunity(id: $id, input: { stage: closed_won }) { id } }`, { id });
        if (upd?.['updateOpportunity']?.id) won.push(id);
      }
    };
    const load = Promise.all(Array.from({ length: 8 }, (_, n) => client(n)));
    await until(async () => won.length, (n) => n >= 40 || stop, 120_000);
    expect(won.length).toBeGreaterThanOrEqual(40);
    sigtermAt = performance.now();
    inFlightAtSigterm = 8;
    const exited = first.kill('SIGTERM');
    const code = await exited;
    stop = true;
    await load;
    expect(code, first.output().slice(-3000)).toBe(0);
    expect(await closed).toBe(1001);
    // Accepted requests were answered, and answered well: none failed, none was cut.
    expect(failures).toEqual([]);
    expect(completedAcrossSigterm, `in flight at SIGTERM: up to ${inFlightAtSigterm}; refused after: ${refused}; reset: ${reset}`).toBeGreaterThan(0);
    expect(first.output()).toMatch(/shutting down/);

    // Restarted on the same folder: every acknowledged write is there, and every win's jobs ran.
    const second = spawnTs(MAIN, { ...env, PORT: port }, ['--empty']);
    running.push(second);
    await second.waitFor(ENDPOINT, 300_000);
    const token2 = await signIn(endpoint, email, password);
    await auth('/organization/set-active', { organizationId: org.id }, token2);
    const again = withHeaders(endpoint, { authorization: `Bearer ${token2}` });
    const found = await gqlOk<{ opportunities: { totalCount: number } }>(again, 'query($ids: [ID!]) { opportunities(where: { id: { in: $ids } }) { totalCount } }', { ids: created });
    expect(found.opportunities.totalCount).toBe(created.length);
    type Done = { opportunities: { nodes: { id: string; probability: number | null }[] }; tasks: { totalCount: number } };
    const read = () => gqlOk<Done>(again, 'query($ids: [ID!]) { opportunities(where: { id: { in: $ids } }, first: 1000) { nodes { id probability } } tasks(where: { opportunityId: { in: $ids } }) { totalCount } }', { ids: won });
    const last = await until(read, (d) => d.opportunities.nodes.every((o) => o.probability === 100) && d.tasks.totalCount === won.length, 120_000);
    expect(last.opportunities.nodes.filter((o) => o.probability !== 100).map((o) => o.id)).toEqual([]);
    expect(last.tasks.totalCount).toBe(won.length);
    expect(await second.kill('SIGTERM')).toBe(0);
  }, 600_000);
});
