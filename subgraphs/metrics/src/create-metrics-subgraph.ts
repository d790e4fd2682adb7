import { buildSubgraphSchema, type GraphQLResolverMap } from '@apollo/subgraph';
import { GraphQLError, parse, type GraphQLSchema } from 'graphql';
import { createYoga } from 'graphql-yoga';
import { createLogger, metrics, useCorrelatedErrors, type Logger } from '@objectos/observability';
import { audienceKey, createMemoryReplayStore, principalOf, usePrincipalGuard, type Principal, type ReplayStore } from '@objectos/principal';
import { accessFor, guardEntityTypes, METRICS_SDL, renameResolvers, renameSdl, scalarResolvers, type CompiledSchema } from '@objectos/schema';
import type { MetricsSource } from './source.ts';

export interface MetricsSubgraphOptions {
  /** OBJECTOS_SECRET: requests must carry a principal signed with the key derived from it. */
  secret: string;
  /** Compiled metadata: system permissions (viewSetup, viewMetrics) and the name prefix. */
  compiled: CompiledSchema;
  /** Where health and startup reports come from (this process's kernel, other processes). */
  source: MetricsSource;
  replay?: ReplayStore;
  logger?: Logger;
}

export interface MetricsSubgraph {
  name: 'metrics';
  sdl: string;
  schema: GraphQLSchema;
  fetch: (request: Request) => Promise<Response>;
}

interface Ctx {
  principal: Principal;
}

const forbidden = (message: string) => new GraphQLError(message, { extensions: { code: 'FORBIDDEN' } });

/**
 * Health, metrics and the startup report are the deployment's, not an organization's: a platform
 * operator, or a member holding the system permission (an organization administrator of a
 * self-hosted deployment). Messages in them are redacted (no addresses, URLs or credentials).
 */
function requirePermission(compiled: CompiledSchema, principal: Principal, permission: 'viewSetup' | 'viewMetrics'): void {
  if (principal.kind === 'user' && principal.isAdmin && principal.impersonatedBy === null) return;
  if (principal.organizationId === null || (principal.kind !== 'user' && principal.kind !== 'api_key'))
    throw forbidden(`This needs the ${permission} system permission in an organization`);
  if (!accessFor(compiled.plan, compiled.security, principal).systemPermissions.includes(permission))
    throw forbidden(`This needs the ${permission} system permission (none of your permission sets grants it)`);
}

const labelsOut = (labels: Record<string, string | number>) => Object.entries(labels).map(([name, value]) => ({ name, value: String(value) }));

/** The metrics subgraph: `health`, `metrics(names)` and `startupReport` for administrators. */
export function createMetricsSubgraph(o: MetricsSubgraphOptions): MetricsSubgraph {
  const { compiled } = o;
  const logger = o.logger ?? createLogger('metrics');
  const names = compiled.inflection;
  const sdl = compiled.namePrefix ? renameSdl(METRICS_SDL, names) : METRICS_SDL;
  const resolvers = {
    ...scalarResolvers,
    Query: {
      health: async (_: unknown, __: unknown, ctx: Ctx) => {
        requirePermission(compiled, ctx.principal, 'viewSetup');
        const h = await o.source.health();
        return { status: h.status, timestamp: new Date(), components: h.components.map((c) => ({ ...c, report: { ...c.report, timestamp: new Date(c.report.timestamp) } })) };
      },
      metrics: async (_: unknown, a: { names?: string[] | null }, ctx: Ctx) => {
        requirePermission(compiled, ctx.principal, 'viewMetrics');
        if ((a.names?.length ?? 0) > 200) throw new GraphQLError('names: at most 200 metric names per request', { extensions: { code: 'BAD_USER_INPUT' } });
        const families = await metrics.metricValues(a.names ?? []);
        return families.map((f) => ({ name: f.name, type: f.type, help: f.help, samples: f.values.map((s) => ({ name: s.metricName ?? null, labels: labelsOut(s.labels), value: s.value })) }));
      },
      startupReport: async (_: unknown, __: unknown, ctx: Ctx) => {
        requirePermission(compiled, ctx.principal, 'viewSetup');
        return (await o.source.startupReport()).map((r) => ({ ...r, error: r.error ?? null, health: r.health ? { healthy: r.health.healthy, timestamp: new Date(r.health.timestamp) } : null }));
      },
    },
  } as unknown as GraphQLResolverMap<Ctx>;
  const schema = guardEntityTypes(buildSubgraphSchema([{ typeDefs: parse(sdl), resolvers: compiled.namePrefix ? renameResolvers(METRICS_SDL, resolvers, names) : resolvers }]));
  const yoga = createYoga<Record<string, unknown>, Ctx>({
    schema,
    graphqlEndpoint: '/graphql',
    graphiql: false,
    landingPage: false,
    maskedErrors: false,
    maxRequestBodySize: false,
    plugins: [usePrincipalGuard({ key: audienceKey(o.secret, 'metrics'), audience: 'metrics', replay: o.replay ?? createMemoryReplayStore() }), useCorrelatedErrors({ logger })],
    context: ({ request }) => ({ principal: principalOf(request) }),
  });
  return {
    name: 'metrics',
    sdl,
    schema,
    async fetch(request) {
      const url = new URL(request.url);
      if (url.pathname === '/graphql') return yoga.fetch(request);
      return Response.json({ error: { code: 'NOT_FOUND', message: `no route ${request.method} ${url.pathname}` } }, { status: 404 });
    },
  };
}
