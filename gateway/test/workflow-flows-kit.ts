import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { expect } from 'vitest';
import { gql, services, signIn, withHeaders, type FetchHandler } from '@objectos/testkit';
import { until, type RulesApp, type RulesEngine } from './rules-app.ts';

/** The engines every flow test runs on: PGlite, and PostgreSQL with BullMQ on Redis when both are up. */
export const FLOW_ENGINES: RulesEngine[] = [...(services.postgres && services.redis ? ['postgres+redis' as const] : []), 'pglite'];

export const PASSWORD = 'Sup3r-secret-pass!';

export interface Step { seq: number; node: string; type: string; status: string; input: unknown; output: unknown; error: string | null; attempt: number; startedAt: string; finishedAt: string | null; duration: number | null }
export interface Run {
  id: string; flow: string; status: string; runAs: string; startedBy: string | null; trigger: Record<string, unknown>; nextNode: string | null;
  waitingFor: Record<string, unknown> | null; variables: Record<string, unknown> | null; outputs: Record<string, unknown> | null; error: string | null;
  parentRunId: string | null; steps: Step[];
}
export interface GqlError { message: string; extensions?: { code?: string; input?: string } }

export const RUN_FIELDS = 'id flow status runAs startedBy trigger nextNode waitingFor variables outputs error parentRunId steps { seq node type status input output error attempt startedAt finishedAt duration }';

/** A request that must succeed: its data (GraphQL errors throw). */
export async function ok<T = Record<string, unknown>>(who: FetchHandler, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const r = await gql<T>(who, query, variables);
  if (r.errors?.length) throw new Error(JSON.stringify(r.errors));
  return r.data!;
}

/** The first error of a request that must fail. */
export async function refused(who: FetchHandler, query: string, variables: Record<string, unknown> = {}): Promise<GqlError> {
  const r = await gql(who, query, variables);
  expect(r.errors?.length, JSON.stringify(r)).toBeGreaterThan(0);
  return r.errors![0] as GqlError;
}

export const START = `mutation($n: String!, $i: JSON) { startFlow(name: $n, inputs: $i) { ${RUN_FIELDS} } }`;
export const RUN = `query($id: ID!) { flowRun(id: $id) { ${RUN_FIELDS} } }`;

export async function startFlow(who: FetchHandler, name: string, inputs: Record<string, unknown> = {}): Promise<Run> {
  return (await ok<{ startFlow: Run }>(who, START, { n: name, i: inputs })).startFlow;
}

export async function runOf(who: FetchHandler, id: string): Promise<Run | null> {
  return (await ok<{ flowRun: Run | null }>(who, RUN, { id })).flowRun;
}

/** The run once `test` holds for it (polled), failing after `ms`. */
export async function runWhen(who: FetchHandler, id: string, test: (r: Run) => boolean, what: string, ms = 30_000): Promise<Run> {
  const last = await until(() => runOf(who, id), (r) => r !== null && test(r), ms);
  if (!last || !test(last)) throw new Error(`run ${id} never ${what}: ${JSON.stringify(last)}`);
  return last;
}

/** The run once its status is one of `statuses`. */
export const runUntil = (who: FetchHandler, id: string, statuses: string[], ms = 30_000): Promise<Run> =>
  runWhen(who, id, (r) => statuses.includes(r.status), `reached ${statuses.join('/')}`, ms);

export const owner = (rig: RulesApp): FetchHandler => withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${rig.owner}` });

const auth = (rig: RulesApp, path: string, body: unknown, token?: string) =>
  fetch(`${rig.base}/api/auth${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body) });

/** A member of the owner's organization with a role and permission sets, signed in. */
export async function member(rig: RulesApp, slug: string, name: string, role: string | null, sets: string[]): Promise<{ who: FetchHandler; userId: string }> {
  const org = (await rig.q<{ activeOrganization: { id: string } }>('{ activeOrganization { id } }')).activeOrganization.id;
  const email = `${name}@${slug}.test`;
  const r = await auth(rig, '/sign-up/email', { email, password: PASSWORD, name });
  const userId = ((await r.json()) as { user: { id: string } }).user.id;
  await rig.app.identity!.auth.api.addMember({ body: { userId, organizationId: org, role: 'member' } });
  await rig.q('mutation($i: SetMemberAccessInput!) { setMemberAccess(input: $i) { userId } }', { i: { userId, role, permissionSets: sets, groups: [] } });
  const token = await signIn(rig.base, email, PASSWORD);
  await auth(rig, '/organization/set-active', { organizationId: org }, token);
  return { who: withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${token}` }), userId };
}

/** The owner of a second organization (the tenant wall's other side). */
export async function otherTenant(rig: RulesApp, slug: string): Promise<FetchHandler> {
  const email = `owner-b@${slug}.test`;
  expect((await auth(rig, '/sign-up/email', { email, password: PASSWORD, name: 'Bea Other' })).status).toBe(200);
  const token = await signIn(rig.base, email, PASSWORD);
  const orgB = ((await (await auth(rig, '/organization/create', { name: `B ${slug}`, slug: `b-${slug}` }, token)).json()) as { id: string }).id;
  await auth(rig, '/organization/set-active', { organizationId: orgB }, token);
  return withHeaders(`${rig.base}/graphql`, { authorization: `Bearer ${token}` });
}

export interface Hit { method: string; path: string; headers: IncomingHttpHeaders; body: string }

/**
 * A loopback receiver for http_request and connector nodes: `/flaky/<id>` answers 503 for the first
 * `flakyFailures` calls of that id, `/missing` 404, `/slow` after 3 s; everything else 200 with JSON.
 */
export async function startReceiver(flakyFailures = 2): Promise<{ server: Server; port: number; hits: Hit[]; close(): Promise<void> }> {
  const hits: Hit[] = [];
  const flaky = new Map<string, number>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const path = req.url ?? '/';
      hits.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
      const answer = (status: number) => res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ ok: status < 300, path, got: body ? (JSON.parse(body) as unknown) : null }));
      if (path.startsWith('/missing')) return answer(404);
      if (path.startsWith('/slow')) return void setTimeout(() => answer(200), 3_000);
      if (path.startsWith('/flaky')) {
        const n = flaky.get(path) ?? 0;
        flaky.set(path, n + 1);
        return answer(n < flakyFailures ? 503 : 200);
      }
      answer(200);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { server, port, hits, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** The steps of a run by node id (the last step of each node). */
export const stepsByNode = (run: Run): Record<string, Step> => Object.fromEntries(run.steps.map((s) => [s.node, s]));
