import { mkdtemp, rm, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, freePort, gql, gqlOk, REPO_ROOT, services, signIn, spawnTs, startMailCatcher, TEST_SECRET, withHeaders, type Spawned, type TestDatabase } from '@objectos/testkit';
import { loadMetadata } from '@objectos/metadata';
import { compile, composeSupergraph, IDENTITY_SDL } from '@objectos/schema';
import { BILLING_SDL, billingResolvers, CONFLICTING_SDL, startExternalSubgraph } from './external-subgraph.ts';

const MAIN = 'gateway/src/main.ts';
const ENDPOINT = /GraphQL endpoint: (http:\/\/\S+)/;
const DEMO = /email: +(\S+)\n +password: +(\S+)/;

/** The endpoint as the demo administrator printed at first start: signs in, returns an authenticated target. */
async function asDemoAdmin(output: string, endpoint: string) {
  const m = DEMO.exec(output);
  if (!m) throw new Error(`no demo administrator in the output:\n${output}`);
  const token = await signIn(endpoint, m[1]!, m[2]!);
  return withHeaders(endpoint, { authorization: `Bearer ${token}` });
}
const running: Spawned[] = [];
const spawn = (entry: string, env: Record<string, string | undefined>, args: string[] = []) => {
  const p = spawnTs(entry, { DATABASE_URL: '', REDIS_URL: '', NODE_ENV: 'development', ...env }, args);
  running.push(p);
  return p;
};
afterAll(async () => {
  await Promise.all(running.map((p) => p.kill('SIGKILL')));
});

describe('npm start (embedded PGlite) as a real process', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-start-'));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it('seeds the demo data, prints the endpoint, and keeps acknowledged writes through kill -9', async () => {
    const port = await freePort();
    const env = { PORT: String(port), OBJECTOS_DATA_DIR: dir, OBJECTOS_SECRET_FILE: join(dir, 'secret') };
    const first = spawn(MAIN, env);
    const [, url] = await first.waitFor(ENDPOINT, 90_000);
    expect(url).toBe(`http://localhost:${port}/graphql`);
    expect(first.output()).toMatch(/Seeded \d{3} demo records \(\d+ account/);
    const anonymous = await gql(`http://127.0.0.1:${port}/graphql`, '{ accounts { totalCount } }');
    expect(anonymous.errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    const endpoint = await asDemoAdmin(first.output(), `http://127.0.0.1:${port}/graphql`);
    const seeded = await gqlOk<{ accounts: { totalCount: number } }>(endpoint, '{ accounts { totalCount } }');
    expect(seeded.accounts.totalCount).toBeGreaterThanOrEqual(40);
    const created: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await gqlOk<{ createAccount: { id: string } }>(endpoint, 'mutation($n: String!) { createAccount(input: { name: $n }) { id } }', { n: `Durable ${i}` });
      created.push(r.createAccount.id);
    }
    await gqlOk(endpoint, 'mutation($id: ID!) { updateAccount(id: $id, input: { employees: 77 }) { id } }', { id: created[0] });
    expect(await first.kill('SIGKILL')).toBeNull();

    const second = spawn(MAIN, env);
    await second.waitFor(ENDPOINT, 90_000);
    expect(second.output()).not.toMatch(/Seeded/);
    // The session survives the restart (the generated secret is kept beside the data).
    expect(second.output()).not.toMatch(/password:/);
    const after = await gqlOk<{ accounts: { totalCount: number; nodes: { id: string }[] }; account: { employees: number } }>(
      endpoint, 'query($id: ID!) { accounts(where: { name: { startsWith: "Durable " } }, first: 100) { totalCount nodes { id } } account(id: $id) { employees } }', { id: created[0] });
    expect(after.accounts.totalCount).toBe(20);
    expect(after.accounts.nodes.map((n) => n.id).sort()).toEqual([...created].sort());
    expect(after.account.employees).toBe(77);
    expect((await gqlOk<{ accounts: { totalCount: number } }>(endpoint, '{ accounts { totalCount } }')).accounts.totalCount).toBe(seeded.accounts.totalCount + 20);

    // A second server on the same folder would corrupt it: refused, clearly.
    const third = spawn(MAIN, { ...env, PORT: String(await freePort()) });
    expect(await third.exited).toBe(1);
    expect(third.output()).toMatch(/the embedded database in .* is in use by process \d+/);
    await second.kill('SIGTERM');
    // Two starts of up to 90 s each (the first installs the schema, pg-boss's included) on a loaded CI machine.
  }, 240_000);

  it('--empty starts without demo data', async () => {
    const port = await freePort();
    const emptyDir = join(dir, 'empty');
    const p = spawn(MAIN, { PORT: String(port), OBJECTOS_DATA_DIR: emptyDir, OBJECTOS_SECRET_FILE: join(emptyDir, 'secret') }, ['--empty']);
    await p.waitFor(ENDPOINT, 90_000);
    expect(p.output()).not.toMatch(/password:/);
    // No demo account either: sign up, create an organization, and see it empty.
    const origin = `http://127.0.0.1:${port}`;
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${origin}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const up = await post('/sign-up/email', { email: 'first@example.com', password: 'Correct-Horse-9', name: 'First' });
    expect(up.status).toBe(200);
    const token = up.headers.get('set-auth-token')!;
    expect((await post('/organization/create', { name: 'Mine', slug: 'mine' }, { authorization: `Bearer ${token}` })).status).toBe(200);
    const r = await gqlOk<{ accounts: { totalCount: number } }>(withHeaders(`${origin}/graphql`, { authorization: `Bearer ${token}` }), '{ accounts { totalCount } }');
    expect(r.accounts.totalCount).toBe(0);
    await p.kill();
  });
});

describe('bad configuration never starts a half-working server', () => {
  it('exits non-zero on bad metadata, naming file, line and path, without listening', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'objectos-badmeta-'));
    try {
      await mkdir(join(dir, 'objects'));
      await writeFile(join(dir, 'objects', 'deal.object.yaml'), 'name: deal\nfields:\n  amount:\n    type: money\n');
      const port = await freePort();
      const p = spawn(MAIN, { PORT: String(port), OBJECTOS_METADATA: dir, OBJECTOS_DATA_DIR: join(dir, 'data'), OBJECTOS_SECRET_FILE: join(dir, 'secret') });
      expect(await p.exited).toBe(1);
      expect(p.output()).toMatch(/ObjectOS failed to start/);
      expect(p.output()).toMatch(/objects\/deal\.object\.yaml:4:11 fields\.amount\.type: unknown field type "money"/);
      await expect(fetch(`http://127.0.0.1:${port}/graphql`)).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a plugin that fails at start stops the process with the startup report naming it, without listening', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'objectos-plugin-fail-'));
    try {
      // The embedded database's folder held by a live process (this test's): the database plugin refuses it.
      await mkdir(join(dir, 'data'), { recursive: true });
      await writeFile(join(dir, 'data', 'objectos.pid'), String(process.pid));
      const port = await freePort();
      const p = spawn(MAIN, { PORT: String(port), OBJECTOS_DATA_DIR: join(dir, 'data'), OBJECTOS_SECRET_FILE: join(dir, 'secret') });
      expect(await p.exited).toBe(1);
      expect(p.output()).toMatch(new RegExp(`plugin "database" failed to start: start: the embedded database in \\S+ is in use by process ${process.pid}`));
      // The report: what started before it, and it, each on its line with a duration.
      expect(p.output()).toMatch(/ok {3}events +0\.1\.0 +\d+ ms/);
      expect(p.output()).toMatch(/FAIL database +0\.1\.0 +\d+ ms {2}start: the embedded database/);
      await expect(fetch(`http://127.0.0.1:${port}/graphql`)).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits non-zero when composition fails, naming the subgraph and the reason', async () => {
    const legacy = await startExternalSubgraph(CONFLICTING_SDL, { Account: { __resolveReference: (r: unknown) => r } });
    const dir = await mkdtemp(join(tmpdir(), 'objectos-compose-'));
    try {
      const p = spawn(MAIN, { PORT: String(await freePort()), OBJECTOS_DATA_DIR: dir, OBJECTOS_SECRET_FILE: join(dir, 'secret'), OBJECTOS_SUBGRAPHS: `crm_legacy=${legacy.url}` });
      expect(await p.exited).toBe(1);
      expect(p.output()).toMatch(/Supergraph composition failed/);
      expect(p.output()).toMatch(/"crm_legacy"/);
      expect(p.output()).toMatch(/Account\.name/);
    } finally {
      await legacy.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('OBJECTOS_MODE=gateway: the gateway alone as a process, in front of subgraphs that are not ObjectOS', () => {
  it('serves a supergraph file with no authentication, and refuses to start on an unreadable one', async () => {
    const billing = await startExternalSubgraph(BILLING_SDL.replace('type Invoice', 'type Query { plans: [String!]! }\ntype Invoice'), {
      Query: { plans: () => ['team', 'enterprise'] },
      ...billingResolvers,
    });
    const dir = await mkdtemp(join(tmpdir(), 'objectos-plain-'));
    try {
      await writeFile(join(dir, 'supergraph.graphql'), composeSupergraph([{ name: 'billing', url: billing.url, sdl: billing.sdl }]));
      const env = { OBJECTOS_MODE: 'gateway', OBJECTOS_AUTH: 'none', OBJECTOS_SECRET: TEST_SECRET, OBJECTOS_SECRET_FILE: join(dir, 'secret') };
      const p = spawn(MAIN, { ...env, PORT: String(await freePort()), OBJECTOS_SUPERGRAPH: join(dir, 'supergraph.graphql') });
      const [, url] = await p.waitFor(ENDPOINT, 60_000);
      expect(p.output()).toMatch(/plain Federation mode, auth: none\) serving the supergraph/);
      expect(p.output()).toMatch(/subgraph billing: listed/);
      expect(await gqlOk(url!, '{ plans }')).toEqual({ plans: ['team', 'enterprise'] });
      const health = await (await fetch(new URL('/health', url).href)).json();
      expect(health).toMatchObject({ status: 'healthy', subgraphs: [{ name: 'billing', state: 'listed' }] });
      const ready = await fetch(new URL('/ready', url).href);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({ status: 'healthy', checks: [{ name: 'lifecycle', status: 'healthy' }, { name: 'subgraphs', status: 'healthy' }] });
      const keys = (await (await fetch(new URL('/.well-known/jwks.json', url).href)).json()) as { keys: { kty: string; crv: string; alg: string }[] };
      expect(keys.keys).toEqual([expect.objectContaining({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA' })]);
      await p.kill();
      const bad = spawn(MAIN, { ...env, PORT: String(await freePort()), OBJECTOS_SUPERGRAPH: join(dir, 'missing.graphql') });
      expect(await bad.exited).toBe(1);
      expect(bad.output()).toMatch(/the supergraph file .*missing\.graphql cannot be read/);
    } finally {
      await billing.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe.skipIf(!services.postgres)('services topology: data subgraph and gateway as separate processes on PostgreSQL', () => {
  let db: TestDatabase;
  beforeAll(async () => {
    db = await createTestDatabase();
  });
  afterAll(() => db?.drop());

  it('serves identity, data, audit, automation and workflow over HTTP behind a separate gateway process, each refusing unsigned calls; a worker process delivers the mail', async () => {
    const [idPort, dataPort, auditPort, gwPort, autoPort, workerPort, wfPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    const mail = await startMailCatcher();
    const secret = { OBJECTOS_SECRET: TEST_SECRET };
    const identity = spawn('subgraphs/identity/src/main.ts', { ...secret, PORT: String(idPort), DATABASE_URL: db.url, OBJECTOS_SEED: 'true', OBJECTOS_PUBLIC_URL: `http://127.0.0.1:${gwPort}` });
    const [, email, password, org] = await identity.waitFor(/demo admin: (\S+) \/ (\S+) \(organization (\S+)\)/, 60_000);
    await identity.waitFor(/identity subgraph listening on/, 60_000);
    const data = spawn('subgraphs/data/src/main.ts', { ...secret, PORT: String(dataPort), DATABASE_URL: db.url, OBJECTOS_SEED: 'true', OBJECTOS_SEED_ORGANIZATION: org });
    await data.waitFor(/data subgraph listening on (http:\/\/\S+)/, 60_000);
    const audit = spawn('subgraphs/audit/src/main.ts', { ...secret, PORT: String(auditPort), DATABASE_URL: db.url });
    await audit.waitFor(/audit subgraph listening on/, 60_000);
    // Jobs on PostgreSQL (pg-boss; this topology has no Redis): the API process monitors, the worker delivers.
    const automation = spawn('subgraphs/automation/src/main.ts', { ...secret, PORT: String(autoPort), DATABASE_URL: db.url });
    const worker = spawn('subgraphs/automation/src/worker.ts', { ...secret, PORT: String(workerPort), DATABASE_URL: db.url, SMTP_URL: mail.url, DATA_URL: `http://127.0.0.1:${dataPort}/graphql` });
    // State machines: transitions written through the data process, their actions run by the worker.
    const workflow = spawn('subgraphs/workflow/src/main.ts', { ...secret, PORT: String(wfPort), DATABASE_URL: db.url, DATA_URL: `http://127.0.0.1:${dataPort}/graphql` });
    await Promise.all([automation.waitFor(/automation subgraph listening on/, 60_000), worker.waitFor(/worker running pg-boss/, 60_000), workflow.waitFor(/workflow subgraph listening on/, 60_000)]);
    expect((await fetch(`http://127.0.0.1:${workerPort}/health`)).status).toBe(200);
    // Each process is ready (started, its database answers; no Redis in this topology), unsigned.
    for (const port of [idPort, dataPort, auditPort, autoPort, workerPort, wfPort]) {
      const ready = await fetch(`http://127.0.0.1:${port}/ready`);
      expect(ready.status, `port ${port}`).toBe(200);
      expect(await ready.json()).toEqual({ status: 'healthy', checks: [{ name: 'lifecycle', status: 'healthy' }, { name: 'database', status: 'healthy' }, { name: 'plugins', status: 'healthy' }] });
    }
    // Around the gateway, every subgraph answers 401.
    for (const url of [`http://127.0.0.1:${dataPort}/graphql`, `http://127.0.0.1:${idPort}/graphql`, `http://127.0.0.1:${idPort}/api/auth/get-session`, `http://127.0.0.1:${auditPort}/graphql`, `http://127.0.0.1:${autoPort}/graphql`, `http://127.0.0.1:${wfPort}/graphql`])
      expect((await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ _service { sdl } }"}' })).status).toBe(401);
    // The metrics subgraph as its own process, asking every other process's probes.
    const targets = { identity: idPort, data: dataPort, audit: auditPort, automation: autoPort, worker: workerPort, workflow: wfPort };
    const metrics = spawn('subgraphs/metrics/src/main.ts', { ...secret, PORT: String(metricsPort), OBJECTOS_HEALTH_TARGETS: Object.entries(targets).map(([n, p]) => `${n}=http://127.0.0.1:${p}`).join(',') });
    await metrics.waitFor(/metrics subgraph listening on/, 60_000);
    const gateway = spawn(MAIN, { ...secret, PORT: String(gwPort), OBJECTOS_SUBGRAPHS: `identity=http://127.0.0.1:${idPort}/graphql,data=http://127.0.0.1:${dataPort}/graphql,audit=http://127.0.0.1:${auditPort}/graphql,automation=http://127.0.0.1:${autoPort}/graphql,workflow=http://127.0.0.1:${wfPort}/graphql,metrics=http://127.0.0.1:${metricsPort}/graphql` });
    await gateway.waitFor(ENDPOINT, 60_000);
    // Every subgraph is remote: the gateway process's plugins are the shared modules and the gateway.
    expect(await (await fetch(`http://127.0.0.1:${gwPort}/ready`)).json()).toEqual({ status: 'healthy', checks: [{ name: 'lifecycle', status: 'healthy' }, { name: 'subgraphs', status: 'healthy' }, { name: 'plugins', status: 'healthy' }] });
    const token = await signIn(`http://127.0.0.1:${gwPort}/graphql`, email!, password!);
    const endpoint = withHeaders(`http://127.0.0.1:${gwPort}/graphql`, { authorization: `Bearer ${token}` });
    const r = await gqlOk<{ me: { email: string }; accounts: { totalCount: number; nodes: { contacts: unknown[] }[] } }>(
      endpoint, '{ me { email } accounts(first: 5) { totalCount nodes { name contacts { lastName account { name } } } } }');
    expect(r.me.email).toBe(email);
    expect(r.accounts.totalCount).toBe(40);
    // Health and the startup report of every process, through the gateway, from the metrics process.
    type Ops = { health: { status: string; components: { name: string; process: string; report: { status: string; checks: { name: string; status: string }[] } }[] }; startupReport: { process: string; plugin: { name: string }; success: boolean; duration: number }[] };
    const ops = await gqlOk<Ops>(endpoint, '{ health { status components { name process report { status checks { name status } } } } startupReport { process plugin { name } success duration } }');
    expect(ops.health.status).toBe('healthy');
    for (const name of Object.keys(targets)) {
      const c = ops.health.components.find((x) => x.process === name && x.name === name);
      expect(c?.report.status, name).toBe('healthy');
      expect(c?.report.checks.map((k) => k.name), name).toEqual(expect.arrayContaining(['lifecycle', 'database', 'plugins']));
    }
    expect(ops.health.components.filter((c) => c.process === 'metrics').map((c) => c.name)).toEqual(expect.arrayContaining(['redis', 'principal-guard', 'metrics']));
    const started = (p: string) => ops.startupReport.filter((x) => x.process === p).map((x) => x.plugin.name);
    expect(started('data')).toEqual(['redis', 'realtime', 'principal-guard', 'data']);
    expect(started('workflow')).toEqual(['redis', 'jobs', 'principal-guard', 'workflow']);
    expect(started('worker')).toEqual(['redis', 'jobs']);
    expect(ops.startupReport.every((x) => x.success && x.duration >= 0)).toBe(true);
    expect(r.accounts.nodes).toHaveLength(5);
    const bad = await gql(endpoint, 'mutation { createAccount(input: { name: "X", employees: -3 }) { id } }');
    expect(bad.errors?.[0]?.extensions?.['code']).toBe('BAD_USER_INPUT');
    // The same subgraphs behind a plain gateway over a supergraph file, with ObjectOS sessions: same answers.
    const dir = await mkdtemp(join(tmpdir(), 'objectos-supergraph-'));
    await writeFile(join(dir, 'supergraph.graphql'), composeSupergraph([
      { name: 'identity', url: `http://127.0.0.1:${idPort}/graphql`, sdl: IDENTITY_SDL },
      { name: 'data', url: `http://127.0.0.1:${dataPort}/graphql`, sdl: compile(await loadMetadata(join(REPO_ROOT, 'metadata'))).subgraphs.data.sdl },
    ]));
    const plainPort = await freePort();
    const plain = spawn(MAIN, { ...secret, PORT: String(plainPort), OBJECTOS_MODE: 'gateway', OBJECTOS_SUPERGRAPH: join(dir, 'supergraph.graphql'), OBJECTOS_PUBLIC_URL: `http://127.0.0.1:${gwPort}` });
    await plain.waitFor(ENDPOINT, 60_000);
    const viaPlain = withHeaders(`http://127.0.0.1:${plainPort}/graphql`, { authorization: `Bearer ${token}` });
    expect(await gqlOk(viaPlain, '{ me { email } accounts(first: 5) { totalCount nodes { name contacts { lastName account { name } } } } }')).toEqual(r);
    expect((await gql(`http://127.0.0.1:${plainPort}/graphql`, '{ accounts { totalCount } }')).errors?.[0]?.extensions?.['code']).toBe('UNAUTHENTICATED');
    // A write through the gateway reaches the audit process's trail (data → outbox → relay → queue → audit),
    // and a sign-in from the identity process too; both queried through the gateway.
    const made = await gqlOk<{ createAccount: { id: string } }>(endpoint, 'mutation { createAccount(input: { name: "Audited Co" }) { id } }');
    const trail = `{ auditEvents(where: { target: { type: "account", id: "${made.createAccount.id}" } }) { totalCount edges { node { eventType actor { id } } } } }`;
    type Trail = { auditEvents: { totalCount: number; edges: { node: { eventType: string } }[] } };
    let found = await gqlOk<Trail>(endpoint, trail);
    for (let i = 0; i < 100 && !found.auditEvents.totalCount; i++) {
      await new Promise((res) => setTimeout(res, 100));
      found = await gqlOk<Trail>(endpoint, trail);
    }
    expect(found.auditEvents.edges.map((e) => e.node.eventType)).toEqual(['data.create']);
    expect((await gqlOk<{ auditEvents: { totalCount: number } }>(endpoint, '{ auditEvents(where: { eventType: ["auth.login"] }) { totalCount } }')).auditEvents.totalCount).toBeGreaterThan(0);
    // Mail queued by the identity process, delivered by the worker process; the run seen through the gateway.
    const invited = await fetch(`http://127.0.0.1:${gwPort}/api/auth/organization/invite-member`, {
      method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ email: 'newcomer@example.com', role: 'member' }),
    });
    expect(invited.status).toBe(200);
    const invitation = await mail.waitFor('newcomer@example.com', /invited you to/, 30_000);
    expect(invitation.text).toMatch(/invitation [0-9a-f-]{36}/);
    const runs = await gqlOk<{ jobRuns: { key: string; status: string }[] }>(endpoint, '{ jobRuns(queue: "notify.email") { key status } }');
    expect(runs.jobRuns).toContainEqual({ key: expect.stringMatching(/^invitation:/), status: 'COMPLETED' });
    // SCIM across processes: the owner issues a token (identity process, through the gateway); a provider's
    // user created through the gateway joins the organization.
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query(`insert into auth.sso_provider (id, issuer, oidc_config, user_id, provider_id, organization_id, domain, domain_verified)
      select gen_random_uuid()::text, 'https://idp.example', '{}', m.user_id, 'acme-idp', $1, 'acme-scim.test', true from auth.member m where m.organization_id = $1 and m.role = 'owner' limit 1`, [org]);
    await client.end();
    const scimToken = (await gqlOk<{ createScimToken: { token: string } }>(endpoint, 'mutation { createScimToken(input: { name: "Okta" }) { token } }')).createScimToken.token;
    const provisioned = await fetch(`http://127.0.0.1:${gwPort}/api/auth/scim/v2/Users`, {
      method: 'POST', headers: { authorization: `Bearer ${scimToken}`, 'content-type': 'application/scim+json' },
      body: JSON.stringify({ schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'sam@acme-scim.test', emails: [{ value: 'sam@acme-scim.test', primary: true }], active: true }),
    });
    expect(provisioned.status, await provisioned.clone().text()).toBe(201);
    expect((await gqlOk<{ members: { user: { email: string } }[] }>(endpoint, '{ members { user { email } } }')).members.map((m) => m.user.email)).toContain('sam@acme-scim.test');
    // A workflow rule across processes: the data process hands the change over, the worker runs the rule
    // and writes back through the data process's API (signed), the run is seen through the gateway.
    const opp = await gqlOk<{ createOpportunity: { id: string } }>(endpoint, `mutation { createOpportunity(input: { name: "Won across processes", stage: prospecting, accountId: "${made.createAccount.id}" }) { id } }`);
    const oppId = opp.createOpportunity.id;
    await gqlOk(endpoint, `mutation { updateOpportunity(id: "${oppId}", input: { stage: closed_won }) { id } }`);
    type Ruled = { opportunity: { probability: number }; tasks: { nodes: { subject: string }[] }; automationRuns: { action: string; status: string; error: string | null }[] };
    const ruled = `{ opportunity(id: "${oppId}") { probability } tasks(where: { opportunityId: { eq: "${oppId}" } }) { nodes { subject } } automationRuns(where: { recordId: "${oppId}" }) { action status error } }`;
    let done = await gqlOk<Ruled>(endpoint, ruled);
    for (let i = 0; i < 200 && !(done.automationRuns.length === 2 && done.automationRuns.every((x) => x.status === 'SUCCEEDED')); i++) {
      await new Promise((res) => setTimeout(res, 100));
      done = await gqlOk<Ruled>(endpoint, ruled);
    }
    expect(done.automationRuns.map((x) => [x.action, x.status, x.error]).sort()).toEqual([["certain_probability", "SUCCEEDED", null], ["onboarding_task", "SUCCEEDED", null]]);
    expect(done.opportunity.probability).toBe(100);
    expect(done.tasks.nodes.map((t) => t.subject)).toEqual([expect.stringMatching(/^Start onboarding for /)]);
    // A transition across processes: the workflow process checks it and writes it through the data process
    // with a signed grant; a direct write of the state is refused there; the worker runs the entry action.
    const leave = await gqlOk<{ createLeaveRequest: { id: string; status: string } }>(endpoint, 'mutation { createLeaveRequest(input: { subject: "Across", startDate: "2026-12-01", endDate: "2026-12-02" }) { id status } }');
    const leaveId = leave.createLeaveRequest.id;
    expect(leave.createLeaveRequest.status).toBe('draft');
    expect((await gql(endpoint, `mutation { updateLeaveRequest(id: "${leaveId}", input: { status: approved }) { id } }`)).errors?.[0]?.message).toContain('changes only through the state machine');
    const moved = await gqlOk<{ transition: { to: string } }>(endpoint, `mutation { transition(object: "leave_request", id: "${leaveId}", event: "submit") { to } }`);
    expect(moved.transition.to).toBe('pending_approval');
    const seen = await gqlOk<{ leaveRequest: { status: string; workflowState: { state: string; availableTransitions: { event: string }[] } } }>(endpoint,
      `{ leaveRequest(id: "${leaveId}") { status workflowState { state availableTransitions { event } } } }`);
    expect(seen.leaveRequest).toEqual({ status: 'pending_approval', workflowState: { state: 'pending_approval', availableTransitions: [{ event: 'approve' }, { event: 'reject' }] } });
    let stateJobs = await gqlOk<{ jobRuns: { status: string }[] }>(endpoint, '{ jobRuns(queue: "workflow.state_action") { status } }');
    for (let i = 0; i < 200 && !stateJobs.jobRuns.some((j) => j.status === 'COMPLETED'); i++) {
      await new Promise((res) => setTimeout(res, 100));
      stateJobs = await gqlOk(endpoint, '{ jobRuns(queue: "workflow.state_action") { status } }');
    }
    expect(stateJobs.jobRuns).toEqual([{ status: 'COMPLETED' }]);
    // SIGTERM: each process drains and stops its plugins in reverse order, exiting 0.
    expect(await workflow.kill(), workflow.output()).toBe(0);
    await plain.kill();
    await rm(dir, { recursive: true, force: true });
    expect(await gateway.kill()).toBe(0);
    expect(await worker.kill(), worker.output()).toBe(0);
    expect(await automation.kill(), automation.output()).toBe(0);
    await mail.close();
    expect(await audit.kill(), audit.output()).toBe(0);
    expect(await data.kill(), data.output()).toBe(0);
    expect(await identity.kill(), identity.output()).toBe(0);
    expect(await metrics.kill(), metrics.output()).toBe(0);
    // Eight processes start one after another: minutes on a loaded CI machine.
  }, 300_000);
});
