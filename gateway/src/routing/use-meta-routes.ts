import type { Plugin } from 'graphql-yoga';
import { OBJECTOS_VERSION } from '@objectos/kernel';
import { describeObject, describeObjects, searchColumns, type CompiledSchema, type ObjectDescription } from '@objectos/schema';
import { principalOfRequest } from '../auth/use-authentication.ts';
import { subjectOf } from '../security/decisions.ts';
import type { SupergraphHealth } from './live-supergraph.ts';

/** Object metadata for signed-in clients (spec `GET /api/v1/meta/:type[/:name]`). */
export const META_PATH = '/api/v1/meta';
/** The spec discovery document: public, it describes the server, never its records or objects. */
export const DISCOVERY_PATHS = ['/.well-known/objectstack', '/api/v1'] as const;

/** ObjectOS's own subgraphs; any other one composed is external. */
const OWN_SERVICES = new Set(['identity', 'data', 'audit', 'automation', 'workflow', 'metrics']);
const STATUS = { up: 'available', down: 'unavailable', listed: 'registered' } as const;

export interface MetaRoutesOptions {
  graphqlEndpoint: string;
  /** The compiled metadata the gateway enforces (the decision table's sources), as served now. */
  sources: () => readonly CompiledSchema[];
  health: () => SupergraphHealth;
  /** Where `/api/auth/*` is proxied (null: no ObjectOS identity behind this gateway). */
  authPath: string | null;
  /** The audit export route, when an audit subgraph is composed. */
  auditExportPath: string;
  /** `/metrics` is served on this port (a token is configured). */
  metrics: boolean;
  introspection: boolean;
}

const json = (body: unknown, status = 200, headers: Record<string, string> = {}) =>
  Response.json(body, { status, headers: { 'cache-control': 'private, no-store', ...headers } });
const problem = (status: number, code: string, message: string, headers: Record<string, string> = {}) => json({ error: { code, message } }, status, headers);

/**
 * The discovery document (spec `api/discovery.zod.ts` names): where each route is, which services are
 * composed and in what state, and what the API can do. Public like `/health`, which already tells the
 * subgraphs' states: nothing in it names an object, a field or a record.
 */
export function discoveryDocument(o: MetaRoutesOptions): Record<string, unknown> {
  const health = o.health();
  const plans = o.sources().map((s) => Object.values(s.plan.objects).filter((p) => p.methods.length > 0));
  const objects = plans.flat();
  const composed = new Set(health.subgraphs.map((s) => s.name));
  const routes: Record<string, string> = {
    graphql: o.graphqlEndpoint,
    // graphql-ws (and SSE) on the GraphQL path.
    realtime: o.graphqlEndpoint,
    metadata: META_PATH,
    discovery: DISCOVERY_PATHS[0],
    health: '/health',
    ready: '/ready',
    ...(o.authPath ? { auth: o.authPath } : {}),
    ...(composed.has('audit') ? { auditExport: o.auditExportPath } : {}),
    ...(o.metrics ? { metrics: '/metrics' } : {}),
  };
  const services: Record<string, { enabled: boolean; status: string; route: string; provider: string }> = {
    metadata: { enabled: true, status: 'available', route: META_PATH, provider: 'objectos' },
  };
  for (const s of health.subgraphs)
    services[s.name] = { enabled: true, status: STATUS[s.state], route: s.name === 'identity' && o.authPath ? o.authPath : o.graphqlEndpoint, provider: OWN_SERVICES.has(s.name) ? 'objectos' : 'external' };
  return {
    name: 'objectos',
    version: OBJECTOS_VERSION,
    apiVersion: 'v1',
    routes,
    services,
    capabilities: {
      graphql: true,
      federation: true,
      subscriptions: true,
      metadata: true,
      search: objects.some((p) => p.methods.includes('get') && searchColumns(p).length > 0),
      aggregates: objects.some((p) => p.methods.includes('list')),
      trash: objects.some((p) => p.object.enable.trash),
      trackHistory: objects.some((p) => p.object.enable.trackHistory),
      explainAccess: objects.length > 0,
      introspection: o.introspection,
    },
    schemaDiscovery: { graphql: o.introspection ? o.graphqlEndpoint : null, openapi: null },
  };
}

/** The spec ObjectSchema shape over REST: fields keyed by name, in declaration order (GraphQL lists them). */
const restItem = (d: ObjectDescription) => ({ ...d, fields: Object.fromEntries(d.fields.map((f) => [f.name, f])) });

/** `/objects`, `/object` (spec type name), each optionally `/:name`; anything else under META_PATH is unknown. */
const META_ROUTE = /^\/(objects?)(?:\/([^/]+))?\/?$/;

/**
 * `GET /.well-known/objectstack` (and `/api/v1`), public; `GET /api/v1/meta` (`{ types }`),
 * `/api/v1/meta/objects` (`{ type, items }`) and `/api/v1/meta/objects/:name` (`{ type, name, item }`)
 * for a signed-in user or API key (authenticated like GraphQL before this runs), described by the one
 * builder the data subgraph's `objects` query uses. Served after the body bound, origin policy,
 * authentication and rate limit: a cookie from another site's page never gets here.
 */
export function useMetaRoutes(o: MetaRoutesOptions): Plugin {
  return {
    onRequest({ request, url, endResponse }) {
      const path = url.pathname;
      const discovery = (DISCOVERY_PATHS as readonly string[]).includes(path);
      if (!discovery && path !== META_PATH && !path.startsWith(`${META_PATH}/`)) return;
      if (request.method !== 'GET') return endResponse(problem(405, 'METHOD_NOT_ALLOWED', `${path} answers GET only`, { allow: 'GET' }));
      if (discovery) return endResponse(json(discoveryDocument(o), 200, { 'cache-control': 'no-store' }));
      const principal = principalOfRequest(request);
      // Where anonymous requests are allowed (or nobody is authenticated), metadata still is not for them.
      if (principal.kind !== 'user' && principal.kind !== 'api_key')
        return endResponse(problem(401, 'UNAUTHENTICATED', 'Object metadata is described to signed-in users and API keys only.', { 'www-authenticate': 'Bearer realm="objectos"' }));
      const rest = path.slice(META_PATH.length);
      if (rest === '' || rest === '/') return endResponse(json({ types: ['object'] }));
      const m = META_ROUTE.exec(rest);
      if (!m) return endResponse(problem(404, 'NOT_FOUND', `Unknown metadata type ${JSON.stringify((rest.split('/')[1] ?? '').slice(0, 64))}: known are objects.`));
      const sources = o.sources();
      const subject = subjectOf({ request, principal }, sources);
      if (m[2] === undefined) {
        const seen = new Set<string>();
        // Several ObjectOS subgraphs could serve metadata: the first to describe a name wins, as in composition.
        const items = sources.flatMap((s, i) => describeObjects(s.plan, subject.access(i)).filter((d) => !seen.has(d.name) && seen.add(d.name)));
        return endResponse(json({ type: 'object', items: items.map(restItem) }));
      }
      let name: string;
      try {
        name = decodeURIComponent(m[2]);
      } catch {
        name = m[2];
      }
      const item = sources.map((s, i) => describeObject(s.plan, subject.access(i), name)).find((d) => d !== null) ?? null;
      // Unknown and unreadable answer alike, word for word: no existence probe.
      if (!item) return endResponse(problem(404, 'NOT_FOUND', `No object named ${JSON.stringify(name.slice(0, 64))} that you can read.`));
      endResponse(json({ type: 'object', name: item.name, item: restItem(item) }));
    },
  };
}
