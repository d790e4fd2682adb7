import { getStitchedSchemaFromSupergraphSdl } from '@graphql-tools/federation';
import { MapperKind, mapSchema } from '@graphql-tools/utils';
import type { GraphQLSchema } from 'graphql';
import { createYoga, type YogaServerInstance } from 'graphql-yoga';
import { composeSupergraph, scalarResolvers } from '@objectos/schema';
import { createLogger, REQUEST_ID_HEADER, useCorrelatedErrors, type Logger } from '@objectos/observability';
import { classifyGatewayError } from './classify-error.ts';
import { CSRF_HEADER, type ProtectionOptions } from './protection/protection-options.ts';
import { useProtection } from './protection/use-protection.ts';
import { createRateLimit } from './protection/use-rate-limit.ts';

/** A subgraph the gateway routes to: in-process (`fetch` given) or over HTTP at `url`. */
export interface SubgraphSource {
  name: string;
  url: string;
  /** SDL; fetched from `{ _service { sdl } }` when absent. */
  sdl?: string;
  /** In-process handler: requests never leave the process. */
  fetch?: (request: Request) => Promise<Response>;
}

export interface GatewayOptions {
  subgraphs: readonly SubgraphSource[];
  /** @default '/graphql' */
  graphqlEndpoint?: string;
  /** @default false */
  graphiql?: boolean;
  /** Limits, introspection, CSRF and trusted documents; safe defaults (introspection off). */
  protection?: ProtectionOptions;
  /** Longest wait for one subgraph call; past it the field fails with code TIMEOUT. @default 10000 */
  subgraphTimeoutMs?: number;
  /** Where error log lines go (pino). @default createLogger('gateway') */
  logger?: Logger;
}

export interface Gateway {
  supergraphSdl: string;
  schema: GraphQLSchema;
  yoga: YogaServerInstance<Record<string, unknown>, Record<string, unknown>>;
  /** In-process handler; `serverContext` is what the node adapter passes (`{ req, res }`). */
  fetch: (request: Request, serverContext?: Record<string, unknown>) => Promise<Response>;
  /** Closes what the gateway opened (the rate limiter's Redis connection). */
  dispose(): Promise<void>;
}

type FetchFn = (input: string | URL | Request, init?: RequestInit) => Promise<Response>;

/** A subgraph may still be starting (compose, rolling restarts): try a few times before giving up. */
async function fetchSdl(s: SubgraphSource, attempts = 5): Promise<string> {
  for (let i = 1; ; i++) {
    try {
      return await fetchSdlOnce(s);
    } catch (e) {
      if (i >= attempts) throw e;
      await new Promise((r) => setTimeout(r, 500 * i));
    }
  }
}

async function fetchSdlOnce(s: SubgraphSource): Promise<string> {
  const doFetch: FetchFn = s.fetch ? (input, init) => s.fetch!(new Request(input, init)) : fetch;
  let body: { data?: { _service?: { sdl?: string } }; errors?: { message: string }[] };
  try {
    const res = await doFetch(s.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ _service { sdl } }' }),
      signal: AbortSignal.timeout(10_000),
    });
    body = (await res.json()) as typeof body;
  } catch (e) {
    throw new Error(`subgraph "${s.name}" at ${s.url} did not answer with its SDL: ${(e as Error).message}`);
  }
  const sdl = body.data?._service?.sdl;
  if (!sdl) throw new Error(`subgraph "${s.name}" at ${s.url} did not return its SDL: ${body.errors?.map((e) => e.message).join('; ') ?? 'no _service field'}`);
  return sdl;
}

/** Composes the subgraphs into a supergraph and serves it as one GraphQL endpoint. */
export async function createGateway(options: GatewayOptions): Promise<Gateway> {
  const { subgraphs, graphqlEndpoint = '/graphql', graphiql = false, protection = {}, subgraphTimeoutMs = 10_000, logger = createLogger('gateway') } = options;
  const sdls = await Promise.all(subgraphs.map(async (s) => ({ name: s.name, url: s.url, sdl: s.sdl ?? (await fetchSdl(s)) })));
  const supergraphSdl = composeSupergraph(sdls);
  // The executor names subgraphs by their join__Graph enum value, so route in-process calls by URL.
  const local = new Map(subgraphs.filter((s) => s.fetch).map((s) => [s.url, s.fetch!]));
  const schema = getStitchedSchemaFromSupergraphSdl({
    supergraphSdl,
    httpExecutorOpts: ({ endpoint }) => {
      const handler = endpoint ? local.get(endpoint) : undefined;
      return {
        timeout: subgraphTimeoutMs,
        // The request id travels to every subgraph, so their log lines carry it too.
        headers: (request?: { context?: { requestId?: string } }): Record<string, string> => {
          const id = request?.context?.requestId;
          return id ? { [REQUEST_ID_HEADER]: id } : {};
        },
        ...(handler ? { fetch: ((input: string, init?: RequestInit) => handler(new Request(input, init))) as FetchFn } : {}) };
    },
    // The supergraph only knows scalar names; use ObjectOS's scalars so bad dates are refused here,
    // during validation, before any subgraph is called.
    onStitchedSchema: (stitched) =>
      mapSchema(stitched, { [MapperKind.SCALAR_TYPE]: (t) => scalarResolvers[t.name as keyof typeof scalarResolvers] ?? t }),
  });
  const rateLimit = protection.rateLimit ? createRateLimit(protection.rateLimit) : undefined;
  try {
    await rateLimit?.ready;
  } catch (e) {
    await rateLimit?.close();
    throw e;
  }
  const yoga = createYoga<Record<string, unknown>>({
    schema,
    graphqlEndpoint,
    graphiql: graphiql ? { headers: JSON.stringify({ [CSRF_HEADER]: '1' }) } : false,
    landingPage: false,
    // Masking, codes and correlation ids live in one plugin.
    maskedErrors: false,
    plugins: [...useProtection(protection, rateLimit), useCorrelatedErrors({ logger, classify: classifyGatewayError })],
  });
  return {
    supergraphSdl,
    schema,
    yoga,
    fetch: (request, serverContext = {}) => Promise.resolve(yoga.fetch(request, serverContext)),
    dispose: async () => rateLimit?.close(),
  };
}
