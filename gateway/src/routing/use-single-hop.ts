import { randomUUID } from 'node:crypto';
import { getOperationAST, getVariableValues, GraphQLError, print, type DocumentNode, type ExecutionResult, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { handoff, isDataOnly, rawResult } from '@objectos/observability';
import type { Principal } from '@objectos/principal';
import { soleSubgraph, type Ownership } from './ownership.ts';
import { handedStream, resultStream } from '../realtime/sse-stream.ts';
import { callFailure, notAResult, parseResult } from './subgraph-executor.ts';
import { subgraphCall } from './subgraph-call.ts';

/** An in-process subgraph's compiled read: response text for the principal, or null (then `call`). */
export type LocalRead = (principal: Principal, document: DocumentNode, operationName: string | null | undefined, variables: Record<string, unknown> | null | undefined, requestId?: string | null) => Promise<string | null>;

/** What a request carries to every subgraph it reaches: who, which request, and the client's address and agent. */
export interface RequestContext {
  principal?: Principal;
  requestId?: string;
  client?: { ip: string | null; userAgent: string | null };
}

/** Sends one GraphQL request body to a subgraph, signed for it; its answer's status and text (read within the call). */
export type SubgraphCall = (name: string, body: string, context: RequestContext) => Promise<{ status: number; text: string }>;

/**
 * Opens one subscription on a subgraph (`Accept: text/event-stream`), signed for it and named `stream`;
 * its response, ended by `signal`. An in-process subgraph given `serverContext` (`handoff()`) hands its
 * results over as texts instead of writing them as an event stream.
 */
export type SubgraphStream = (name: string, body: string, context: RequestContext, signal: AbortSignal, stream: string, serverContext?: Record<string, unknown>) => Promise<Response>;

/**
 * Tells a subgraph that the subscriber of `stream` now has `principal`'s access, and that its client was
 * given `delivered` of its events: the subgraph sends the ids of the records that left its view, then
 * ends it. How many events it sent past `delivered` (to drop unsent), or null when it did not.
 */
export type SubgraphFarewell = (name: string, stream: string, principal: Principal, delivered: number) => Promise<number | null>;

/** On a one-hop subscription's context: its farewell (see useLiveAccess), bound to its subgraph and stream. */
export const FAREWELL = Symbol('objectos.farewell');
export type Farewell = (principal: Principal, delivered: number) => Promise<number | null>;

/**
 * One hop for an operation one subgraph answers whole (every query and mutation that stays inside the
 * data subgraph, or inside identity): the document goes to that subgraph as it is, and its answer comes
 * back as it is — no query plan, no stitching, no re-materialised result. Everything the gateway checks
 * still runs first: authentication, limits, and the access decisions (a validation rule from the same
 * table as the shield rules, which depend on the principal alone). Anything else (several subgraphs,
 * abstract types, introspection) goes through the stitched schema as before.
 *
 * A subscription one subgraph answers whole takes the one hop too (with `stream`): its events come back
 * as the subgraph wrote them, each passed on as text when it holds data only — the subgraph serialized
 * it once for all the subscribers of a group, and the gateway neither parses nor re-executes it per
 * subscriber. An event with errors is parsed, so the gateway codes and masks them as for any answer.
 */
export function useSingleHop(options: { owned: () => Ownership | null; call: SubgraphCall; stream?: SubgraphStream; farewell?: SubgraphFarewell; local?: ReadonlyMap<string, LocalRead> }): Plugin {
  // Routes per ownership (it is replaced when the supergraph is recomposed), then per document.
  const routesBy = new WeakMap<Ownership, WeakMap<DocumentNode, Map<string, string | null>>>();
  const printed = new WeakMap<DocumentNode, string>();
  const routeOf = (schema: GraphQLSchema, document: DocumentNode, operationName: string | null | undefined): string | null => {
    const owned = options.owned();
    if (!owned) return null;
    let routes = routesBy.get(owned);
    if (!routes) routesBy.set(owned, (routes = new WeakMap()));
    let byName = routes.get(document);
    if (!byName) routes.set(document, (byName = new Map()));
    const key = operationName ?? '';
    if (!byName.has(key)) {
      const operation = getOperationAST(document, operationName);
      byName.set(key, operation ? soleSubgraph(schema, document, operation, owned) : null);
    }
    return byName.get(key)!;
  };
  // The client's own text when it is at hand (error locations then match it), else the document printed.
  const textOf = (document: DocumentNode): string => {
    let text = printed.get(document);
    if (text === undefined) printed.set(document, (text = document.loc?.source.body ?? print(document)));
    return text;
  };
  return {
    onSubscribe({ args, setSubscribeFn }) {
      const stream = options.stream;
      if (!stream) return;
      const target = routeOf(args.schema, args.document, args.operationName);
      if (target === null) return;
      setSubscribeFn(async (a) => {
        const operation = getOperationAST(a.document, a.operationName)!;
        const coerced = getVariableValues(a.schema, operation.variableDefinitions ?? [], a.variableValues ?? {});
        if (coerced.errors) return { errors: coerced.errors };
        const context = a.contextValue as RequestContext & { request?: Request };
        // The client's request: its going ends the call (and through it the subgraph's subscription).
        const client = context.request?.signal;
        const ctrl = new AbortController();
        const onClientAbort = () => ctrl.abort(client?.reason);
        client?.addEventListener('abort', onClientAbort, { once: true });
        const end = () => {
          client?.removeEventListener('abort', onClientAbort);
          ctrl.abort();
        };
        const body = JSON.stringify({ query: textOf(a.document), variables: a.variableValues ?? undefined, operationName: a.operationName ?? undefined });
        let response: Response;
        const id = randomUUID();
        const handed = handoff();
        try {
          response = await stream(target, body, context, ctrl.signal, id, handed.context);
        } catch (e) {
          end();
          return { data: null, errors: [callFailure(target, e)] };
        }
        const read = (text: string) => (isDataOnly(text) ? rawResult(text) : eventOf(fromSubgraph(text, 200, target)));
        const farewell = options.farewell;
        const texts = handed.taken(response);
        // In process: the subgraph's results as texts, with no event stream written and read between.
        if (texts) {
          if (farewell) (context as { [FAREWELL]?: Farewell })[FAREWELL] = (principal, delivered) => farewell(target, id, principal, delivered);
          return handedStream(texts, end, read);
        }
        // Refused before it streamed (the subgraph's 4xx, a guard's answer): one result, worded as a query's.
        if (!(response.headers.get('content-type') ?? '').includes('text/event-stream')) {
          const text = await response.text().catch(() => '');
          end();
          return fromSubgraph(text, response.status, target);
        }
        if (farewell) (context as { [FAREWELL]?: Farewell })[FAREWELL] = (principal, delivered) => farewell(target, id, principal, delivered);
        return resultStream(response, end, read);
      });
    },
    onExecute({ args, setExecuteFn }) {
      const target = routeOf(args.schema, args.document, args.operationName);
      const atomic = isAtomic(args.contextValue) && getOperationAST(args.document, args.operationName)?.operation === 'mutation';
      // All or nothing needs one transaction, so one subgraph, and one that runs a request's mutations in one: the data subgraph.
      if (atomic && target !== ATOMIC_SUBGRAPH) {
        setExecuteFn(refuseAtomic);
        return;
      }
      if (target === null) return;
      setExecuteFn(async (a) => {
        const operation = getOperationAST(a.document, a.operationName)!;
        // Variables are coerced here as the gateway's own execution would, so bad ones get the same errors.
        const coerced = getVariableValues(a.schema, operation.variableDefinitions ?? [], a.variableValues ?? {});
        if (coerced.errors) return { errors: coerced.errors };
        const context = a.contextValue as RequestContext;
        // In process, a read the subgraph compiles needs no request at all: its answer text comes back.
        const local = operation.operation === 'query' && context.principal ? options.local?.get(target) : undefined;
        // Timed and traced as a call to that subgraph, when it answers (null: it took no call at all).
        const text = local ? await subgraphCall(target, {}, () => local(context.principal!, a.document, a.operationName, a.variableValues, context.requestId ?? null), { outcomeOf: (t) => (t === null ? null : 'ok') }) : null;
        if (text !== null) return rawResult(text);
        const body = JSON.stringify({
          query: textOf(a.document), variables: a.variableValues ?? undefined, operationName: a.operationName ?? undefined,
          ...(atomic ? { extensions: { atomic: true } } : {}),
        });
        let answer: string;
        let status: number;
        try {
          ({ status, text: answer } = await options.call(target, body, context));
        } catch (e) {
          // Unreachable or past its timeout: coded, naming the subgraph (never its URL), as the stitched path does.
          return { data: null, errors: [callFailure(target, e)] };
        }
        if (isDataOnly(answer)) return rawResult(answer);
        return fromSubgraph(answer, status, target);
      });
    },
  };
}

/**
 * An event of a subscription is an execution's result, `data` included: one refused when it started
 * (a bad cursor, say) has `data: null`, as the stitched path words a root field's error.
 */
const eventOf = (result: ExecutionResult): ExecutionResult => ('data' in result ? result : { data: null, ...result });

/** The subgraph that runs an atomic request's mutations in one transaction (subgraphs/data use-atomic.ts). */
const ATOMIC_SUBGRAPH = 'data';
const refuseAtomic = (): ExecutionResult => ({
  errors: [new GraphQLError('An atomic request must be served by the data subgraph alone: its mutations must all be data mutations (nothing was written)', { extensions: { code: 'BAD_REQUEST' } })],
});

/** Without the one hop (`singleHop: false`) no request can be atomic: refused rather than run piece by piece. */
export function useAtomicRefused(): Plugin {
  return {
    onExecute({ args, setExecuteFn }) {
      if (isAtomic(args.contextValue) && getOperationAST(args.document, args.operationName)?.operation === 'mutation') setExecuteFn(refuseAtomic);
    },
  };
}

/**
 * The request's `atomic` option (GraphQL-over-HTTP request extensions: `{ "query": …, "extensions":
 * { "atomic": true } }`): every mutation of the request commits together or not at all.
 */
function isAtomic(context: unknown): boolean {
  const params = (context as { params?: { extensions?: { atomic?: unknown } } } | undefined)?.params;
  return params?.extensions?.atomic === true;
}

/** A subgraph answer with errors: each becomes a GraphQLError (code and path kept) for the error plugin. */
/**
 * A subgraph's answer as the gateway's. Of its extensions only `warnings` passes (validation rules of
 * severity warning/info: the write happened, the client is told why it may want a second look).
 */
function fromSubgraph(text: string, status: number, subgraph: string): ExecutionResult {
  const body = parseResult(text) as { data?: Record<string, unknown> | null; errors?: GraphQLFormattedError[]; extensions?: { warnings?: unknown } } | null;
  // Not a GraphQL result: coded and worded as the stitched path words it.
  if (!body) return { data: null, errors: [notAResult(subgraph, status)] };
  return {
    ...('data' in body ? { data: body.data ?? null } : {}),
    ...(body.errors ? { errors: body.errors.map((e) => new GraphQLError(e.message, { path: e.path ?? null, extensions: e.extensions ?? {} })) } : {}),
    ...(Array.isArray(body.extensions?.warnings) ? { extensions: { warnings: body.extensions.warnings } } : {}),
  };
}
