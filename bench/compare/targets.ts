import { randomBytes } from 'node:crypto';
import { audienceKey, freezePrincipal, signPrincipal, type Principal } from '@objectos/principal';
import { freePort, gqlOk, signIn, withHeaders } from '@objectos/testkit';
import { readFileSync } from 'node:fs';
import { REPO_ROOT } from '@objectos/testkit';
import { spawnNode, type ServerProcess } from './process.ts';

/** `npm start`'s node arguments, read from package.json, so the bench runs exactly what users run. */
export function startScriptArgs(): string[] {
  const pkg = JSON.parse(readFileSync(`${REPO_ROOT}package.json`, 'utf8')) as { scripts: { start: string } };
  const [node, ...args] = pkg.scripts.start.split(/\s+/);
  if (node !== 'node') throw new Error(`the start script does not run node directly: ${pkg.scripts.start}`);
  return args;
}

/** The V8 flags of `npm start` (the heap limit): the direct target gets the same, so both GC alike. */
const nodeFlags = (): string[] => startScriptArgs().filter((a) => a.startsWith('--max-') || a.startsWith('--heap'));

export type TargetKey = 'postgraphile' | 'direct' | 'gateway';

/** A GraphQL endpoint under load, and the process whose RSS is measured. */
export interface Target {
  key: TargetKey;
  name: string;
  url: string;
  /** Headers every request carries (the gateway's bearer token). */
  headers: Record<string, string>;
  /**
   * Headers made for each request from its exact body: the data subgraph accepts only calls the
   * gateway signed, each once, so whoever calls it directly signs every request, as the gateway does.
   */
  sign?: (method: string, path: string, body: string) => Record<string, string>;
  process: ServerProcess;
}

export const TARGET_NAMES: Record<TargetKey, string> = {
  postgraphile: 'PostGraphile v5',
  direct: 'data subgraph, direct',
  gateway: 'gateway (npm start)',
};

/** Connections per server process: the same for all three (PostgreSQL's pool, `connectDatabase`'s default). */
export const POOL_SIZE = 10;

export interface GatewayTarget extends Target {
  /** The demo admin as the gateway resolves them: what the direct target signs with. */
  principal: Principal;
  email: string;
}

/**
 * The real `npm start` entry (package.json's start script, V8 flags included) on the bench database, in
 * production mode with every protection on; only the per-IP rate limit is raised. It migrates, creates
 * the demo admin and organization, and seeds the demo records; then the bench signs in as that admin.
 */
export async function startGateway(databaseUrl: string, rateLimitPerMinute: number, nodeArgs: string[] = []): Promise<GatewayTarget> {
  const port = await freePort();
  const proc = spawnNode('gateway (npm start)', [...nodeArgs, ...startScriptArgs()], {
    DATABASE_URL: databaseUrl,
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    OBJECTOS_SECRET: randomBytes(32).toString('hex'),
    OBJECTOS_RATE_LIMIT: String(rateLimitPerMinute),
    // Rate limits, events and the principal cache in process, as a single `npm start` runs by default.
    REDIS_URL: '',
  });
  try {
    await proc.waitFor(/GraphQL endpoint: \S+/);
    const email = (await proc.waitFor(/email:\s+(\S+)/))[1]!;
    const password = (await proc.waitFor(/password:\s+(\S+)/))[1]!;
    const url = `http://127.0.0.1:${port}/graphql`;
    const token = await signIn(url, email, password);
    const headers = { authorization: `Bearer ${token}` };
    const principal = await resolvePrincipal(withHeaders(url, headers));
    return { key: 'gateway', name: TARGET_NAMES.gateway, url, headers, process: proc, principal, email };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

interface AccessAnswer {
  me: { id: string } | null;
  activeOrganization: { id: string } | null;
  myAccess: { role: string | null; permissionSets: string[]; groups: string[] } | null;
  members: { roles: string[]; user: { id: string } }[];
  mySessions: { id: string; current: boolean }[];
}

/** The principal the gateway builds for this session, read back through the identity subgraph's queries. */
async function resolvePrincipal(gateway: ReturnType<typeof withHeaders>): Promise<Principal> {
  const a = await gqlOk<AccessAnswer>(gateway, '{ me { id } activeOrganization { id } myAccess { role permissionSets groups } members { roles user { id } } mySessions { id current } }');
  const userId = a.me?.id;
  const organizationId = a.activeOrganization?.id;
  const member = a.members.find((m) => m.user.id === userId);
  if (!userId || !organizationId || !member || !a.myAccess)
    throw new Error(`the demo admin has no active organization or membership: ${JSON.stringify(a)}`);
  return {
    kind: 'user',
    userId,
    organizationId,
    roles: member.roles,
    permissionSets: a.myAccess.permissionSets,
    role: a.myAccess.role,
    groups: a.myAccess.groups,
    // Platform operator: none is configured (OBJECTOS_OPERATORS unset), so false, as the gateway resolves it.
    isAdmin: false,
    sessionId: a.mySessions.find((s) => s.current)?.id ?? null,
    apiKeyId: null,
    impersonatedBy: null,
  };
}

/**
 * The data subgraph as services mode runs it: its own process entry (`subgraphs/data/src/main.ts`, as
 * docker-compose starts it, with the same V8 flags as `npm start`), guard, replay store and all. The
 * bench calls it as the gateway would: every request signed as `principal` for its method, path and
 * body (the HMAC is the caller's cost, paid in the bench process on the same machine).
 */
export async function startDirect(databaseUrl: string, principal: Principal, nodeArgs: string[] = []): Promise<Target> {
  const port = await freePort();
  const secret = randomBytes(32).toString('hex');
  const proc = spawnNode('data subgraph, direct', [...nodeArgs, ...nodeFlags(), '--import', '@objectos/runtime/register', 'subgraphs/data/src/main.ts'], {
    NODE_ENV: 'production',
    HOST: '127.0.0.1',
    PORT: String(port),
    DATABASE_URL: databaseUrl,
    OBJECTOS_SECRET: secret,
    OBJECTOS_METADATA: 'metadata',
    // One replica: signatures and change events stay in process, as a single `npm start` keeps them.
    REDIS_URL: '',
  });
  try {
    await proc.waitFor(/data subgraph listening on \S+/);
    const key = audienceKey(secret, 'data');
    const frozen = freezePrincipal(structuredClone(principal));
    const url = `http://127.0.0.1:${port}/graphql`;
    const sign = (method: string, path: string, body: string) => signPrincipal(frozen, key, { audience: 'data', method, url: path, body });
    return { key: 'direct', name: TARGET_NAMES.direct, url, headers: {}, sign, process: proc };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}

/** A fetch handler for a target: its headers, and a signature per request where it needs one. */
export function targetFetch(t: Target): (r: Request) => Promise<Response> {
  return async (r) => {
    const body = r.method === 'GET' || r.method === 'HEAD' ? '' : await r.text();
    const path = new URL(t.url).pathname;
    const headers = new Headers(r.headers);
    for (const [k, v] of Object.entries({ ...t.headers, ...(t.sign ? t.sign(r.method, path, body) : {}) })) headers.set(k, v);
    return fetch(t.url, { method: r.method, headers, ...(body ? { body } : {}) });
  };
}

/** PostGraphile v5 over the same tables, with the Promise.withResolvers polyfill preloaded (Node 20). */
export async function startPostGraphile(databaseUrl: string, nodeArgs: string[] = []): Promise<Target> {
  const proc = spawnNode('PostGraphile v5', [...nodeArgs, '--import', '@objectos/runtime/register', '--import', './bench/postgraphile/polyfill.ts', 'bench/postgraphile/server.ts'], {
    NODE_ENV: 'production',
    GRAPHILE_ENV: 'production',
    DATABASE_URL: databaseUrl,
    POOL_SIZE: String(POOL_SIZE),
  });
  try {
    const port = Number((await proc.waitFor(/READY port=(\d+)/))[1]);
    return { key: 'postgraphile', name: TARGET_NAMES.postgraphile, url: `http://127.0.0.1:${port}/graphql`, headers: {}, process: proc };
  } catch (e) {
    await proc.stop();
    throw e;
  }
}
