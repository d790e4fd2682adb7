import { createAuditSubgraph, type AuditSubgraph } from '@objectos/audit-subgraph';
import { createDataSubgraph, type DataSubgraph } from '@objectos/data-subgraph';
import { sql } from 'drizzle-orm';
import { connectDatabase, queryRows, type Database } from '@objectos/db';
import { createMemoryEventBus, type AuditEvent, type EventBus } from '@objectos/events';
import { createIdentitySubgraph, type IdentitySubgraph, type SecurityNames } from '@objectos/identity-subgraph';
import { DEFAULT_POLICY, loadMetadata, PolicySchema, type PolicyDefinition } from '@objectos/metadata';
import { gql, TEST_SECRET, type Engine, type EngineHandle, type FetchHandler, type GraphQLResult } from '@objectos/testkit';
import { createGateway, type Gateway } from '../src/index.ts';
import type { ProtectionOptions } from '../src/protection/protection-options.ts';
import { METADATA } from './stack.ts';

export const ORIGIN = 'http://objectos.test';

export interface SecureStack {
  gateway: Gateway;
  identity: IdentitySubgraph;
  data: DataSubgraph;
  /** With `audit: true`: the audit subgraph, composed like the others. */
  audit: AuditSubgraph | null;
  /** Every change committed so far published and every queued audit event in the trail. */
  settle(): Promise<void>;
  /** With `audit: true`: settles, then how many of the events published on the bus so far are in the trail, and which are not. */
  inTrail(): Promise<{ published: number; stored: number; missing: string[] }>;
  bus: EventBus;
  events: AuditEvent[];
  /** Requests the gateway sent to the data subgraph so far. */
  dataCalls(): number;
  /** POST to /api/auth/<path> through the gateway, from `ip`. */
  auth(path: string, body: unknown, headers?: Record<string, string>, ip?: string): Promise<Response>;
  /** A GraphQL request through the gateway with the given headers. */
  as(headers: Record<string, string>): FetchHandler;
  q<T = Record<string, unknown>>(headers: Record<string, string>, query: string, variables?: Record<string, unknown>): Promise<GraphQLResult<T>>;
  /** Signs up (and optionally creates an organization); returns the bearer headers. */
  user(email: string, org?: string): Promise<{ headers: Record<string, string>; token: string; userId: string }>;
  /** Signs up, joins an existing organization with `role`, and signs in there; returns the bearer headers. */
  member(email: string, organizationId: string, role?: 'member' | 'admin' | 'owner'): Promise<{ headers: Record<string, string>; token: string; userId: string }>;
  close(): Promise<void>;
}

export const PASSWORD = 'Sturdy-Passw0rd';

/** Identity, data and gateway in process on one database, wired as `npm start` wires them. */
export async function startSecureStack(engine: Engine, options: { policy?: Partial<PolicyDefinition>; cacheTtlMs?: number; trustProxy?: boolean; security?: SecurityNames; protection?: ProtectionOptions; origins?: string[]; audit?: boolean; metadata?: string } = {}): Promise<SecureStack> {
  const handle: EngineHandle = await engine.open();
  const database: Database = await connectDatabase(handle.options);
  const bus = createMemoryEventBus();
  const events: AuditEvent[] = [];
  bus.subscribe('', (e) => events.push(e));
  const policy = PolicySchema.parse({ ...DEFAULT_POLICY, ...options.policy });
  const identity = await createIdentitySubgraph({ database, secret: TEST_SECRET, baseURL: ORIGIN, trustedOrigins: [ORIGIN, ...(options.origins ?? [])], policy, bus, ...(options.security ? { security: options.security } : {}) });
  const model = await loadMetadata(options.metadata ?? METADATA);
  const data = await createDataSubgraph({ metadata: model, database, secret: TEST_SECRET });
  const audit = options.audit ? await createAuditSubgraph({ database, secret: TEST_SECRET, metadata: model, bus }) : null;
  let dataCalls = 0;
  const gateway = await createGateway({
    subgraphs: [
      { name: 'identity', url: 'http://identity.test/graphql', sdl: identity.sdl, fetch: identity.fetch },
      { name: 'data', url: 'http://data.test/graphql', sdl: data.sdl, fetch: (r, context) => (dataCalls++, data.fetch(r, context)), readCompiled: (...a) => (dataCalls++, data.readCompiled!(...a)) },
      ...(audit ? [{ name: 'audit', url: 'http://audit.test/graphql', sdl: audit.sdl, fetch: audit.fetch }] : []),
    ],
    auth: {
      secret: TEST_SECRET,
      resolve: (c) => identity.resolve(new Headers(c as Record<string, string>)),
      identity: { fetch: identity.fetch, baseUrl: 'http://identity.test' },
      bus,
      trustProxy: options.trustProxy ?? false,
      ...(options.cacheTtlMs !== undefined ? { cacheTtlMs: options.cacheTtlMs } : {}),
    },
    ...(options.protection ? { protection: options.protection } : {}),
    origins: [ORIGIN, ...(options.origins ?? [])],
  });
  const as = (headers: Record<string, string>): FetchHandler => (r) => {
    const h = new Headers(r.headers);
    for (const [k, v] of Object.entries(headers)) h.set(k, v);
    return gateway.fetch(new Request(r, { headers: h }), { req: { socket: { remoteAddress: '127.0.0.1' } } });
  };
  const auth = (path: string, body: unknown, headers: Record<string, string> = {}, ip = '127.0.0.1') =>
    gateway.fetch(
      new Request(`${ORIGIN}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', origin: ORIGIN, ...headers }, body: JSON.stringify(body) }),
      { req: { socket: { remoteAddress: ip } } },
    );
  const stack: SecureStack = {
    gateway,
    identity,
    data,
    audit,
    async settle() {
      await data.readAudit?.drain();
      await data.relay.drain();
      await audit?.capture.drain();
    },
    async inTrail() {
      await stack.settle();
      const ids = [...new Set(events.map((e) => e.id))];
      const rows = ids.length ? await queryRows<{ id: string }>(database.db, sql`select id::text as id from audit.events where id = any(${sql.param(ids)}::uuid[])`) : [];
      const stored = new Set(rows.map((r) => r.id));
      return { published: ids.length, stored: rows.length, missing: events.filter((e) => !stored.has(e.id)).map((e) => `${e.eventType} ${e.id}`) };
    },
    bus,
    events,
    dataCalls: () => dataCalls,
    auth,
    as,
    q: (headers, query, variables) => gql(as(headers), query, variables),
    async user(email, org) {
      const r = await auth('/sign-up/email', { email, password: PASSWORD, name: email.split('@')[0] });
      if (r.status !== 200) throw new Error(`sign-up ${email}: ${r.status} ${await r.text()}`);
      const token = r.headers.get('set-auth-token')!;
      const userId = ((await r.json()) as { user: { id: string } }).user.id;
      if (org) {
        const o = await auth('/organization/create', { name: org, slug: org.toLowerCase().replace(/\W+/g, '-') }, { authorization: `Bearer ${token}` });
        if (o.status !== 200) throw new Error(`create organization ${org}: ${o.status} ${await o.text()}`);
      }
      return { headers: { authorization: `Bearer ${token}` }, token, userId };
    },
    async member(email, organizationId, role = 'member') {
      const { userId } = await stack.user(email);
      await identity.auth.api.addMember({ body: { userId, organizationId, role } });
      const signedIn = await auth('/sign-in/email', { email, password: PASSWORD });
      if (signedIn.status !== 200) throw new Error(`sign-in ${email}: ${signedIn.status} ${await signedIn.text()}`);
      const token = signedIn.headers.get('set-auth-token')!;
      return { headers: { authorization: `Bearer ${token}` }, token, userId };
    },
    async close() {
      await gateway.dispose();
      await audit?.dispose();
      await data.dispose();
      await identity.dispose();
      await database.close();
      await handle.cleanup();
    },
  };
  return stack;
}
