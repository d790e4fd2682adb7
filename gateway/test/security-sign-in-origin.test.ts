import { request as httpRequest } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createTestDatabase, freePort, services, spawnTs, TEST_SECRET, type Spawned, type TestDatabase } from '@objectos/testkit';
import { readConfig } from '../src/config.ts';
import { startObjectOS, type RunningObjectOS } from '../src/start.ts';
import { METADATA } from './stack.ts';

/**
 * Class "sign-in origin": one rule whether identity runs in the gateway's process or as its own
 * service behind HTTP. No cookies and no Origin (curl, scripts) → accepted; an Origin must be the
 * public URL's or a configured one; cookies without an Origin → refused.
 */
const PUBLIC = 'http://objectos.test';
const APP = 'http://app.objectos.test';
const PASSWORD = 'Sturdy-Passw0rd';
const base = { OBJECTOS_SECRET: TEST_SECRET, OBJECTOS_PUBLIC_URL: PUBLIC, OBJECTOS_TRUSTED_ORIGINS: APP, OBJECTOS_SEED: 'false', OBJECTOS_METADATA: METADATA, OBJECTOS_RATE_LIMIT: '0', NODE_ENV: 'development' };

/** A POST as curl sends it: only the headers given (node's fetch would add Sec-Fetch-Mode). */
function curl(url: string, body: unknown, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(body);
    const req = httpRequest(url, { method: 'POST', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** Each case signs in as its own account: the gateway allows 3 attempts per account and IP in 10 s. */
async function answers(gatewayOrigin: string): Promise<Record<string, number>> {
  const at = (p: string) => `${gatewayOrigin}/api/auth${p}`;
  const cases: Record<string, (email: string) => Promise<number>> = {
    'no Origin (curl)': (email) => curl(at('/sign-in/email'), { email, password: PASSWORD }),
    'no Origin (node fetch, Sec-Fetch-Mode: cors)': async (email) =>
      (await fetch(at('/sign-in/email'), { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email, password: PASSWORD }) })).status,
    'public URL Origin': (email) => curl(at('/sign-in/email'), { email, password: PASSWORD }, { origin: PUBLIC }),
    'configured Origin': (email) => curl(at('/sign-in/email'), { email, password: PASSWORD }, { origin: APP }),
    'foreign Origin': (email) => curl(at('/sign-in/email'), { email, password: PASSWORD }, { origin: 'http://evil.test' }),
    'cookie without Origin': (email) => curl(at('/sign-in/email'), { email, password: PASSWORD }, { cookie: 'theme=dark' }),
    'sign-up without Origin': (email) => curl(at('/sign-up/email'), { email: `new-${email}`, password: PASSWORD, name: 'New' }),
  };
  const out: Record<string, number> = {};
  let i = 0;
  for (const [name, run] of Object.entries(cases)) {
    const email = `origin-${i++}@tenant.test`;
    const up = await curl(at('/sign-up/email'), { email, password: PASSWORD, name: 'Origin' }, { origin: PUBLIC });
    if (up !== 200) throw new Error(`sign-up of ${email}: ${up}`);
    out[name] = await run(email);
  }
  return out;
}

const EXPECTED = {
  'no Origin (curl)': 200,
  'no Origin (node fetch, Sec-Fetch-Mode: cors)': 200,
  'public URL Origin': 200,
  'configured Origin': 200,
  'foreign Origin': 403,
  'cookie without Origin': 403,
  'sign-up without Origin': 200,
};

const running: { stop(): Promise<unknown> }[] = [];
afterAll(async () => {
  for (const r of running.reverse()) await r.stop();
});
const serve = async (env: Record<string, string>): Promise<RunningObjectOS> => {
  const app = await startObjectOS(readConfig({ ...base, HOST: '127.0.0.1', PORT: '0', ...env }, []));
  running.push(app);
  return app;
};
const originOf = (app: RunningObjectOS) => `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;

describe('sign-in origin rule', () => {
  it('embedded identity (one process)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'objectos-origin-'));
    running.push({ stop: () => rm(dir, { recursive: true, force: true }) });
    const app = await serve({ OBJECTOS_DATA_DIR: dir, OBJECTOS_SECRET_FILE: join(dir, 'secret') });
    expect(await answers(originOf(app))).toEqual(EXPECTED);
  }, 120_000);

  it.skipIf(!services.postgres)('identity as its own process behind HTTP (services mode): the same answers', async () => {
    const db: TestDatabase = await createTestDatabase();
    running.push({ stop: () => db.drop() });
    const port = await freePort();
    const identity: Spawned = spawnTs('subgraphs/identity/src/main.ts', { ...base, PORT: String(port), DATABASE_URL: db.url, REDIS_URL: '' });
    running.push({ stop: () => identity.kill('SIGKILL') });
    await identity.waitFor(/identity subgraph listening on/, 60_000);
    const app = await serve({ DATABASE_URL: db.url, OBJECTOS_SUBGRAPHS: `identity=http://127.0.0.1:${port}/graphql` });
    expect(await answers(originOf(app))).toEqual(EXPECTED);
  }, 120_000);
});
