import type { ExecutionResult } from 'graphql';
import { isAsyncIterable, processRegularResult, type Plugin } from 'graphql-yoga';

/**
 * The server-context key an in-process caller sets to take a subscription's results from yoga as texts,
 * rather than as a text/event-stream it would write and the caller parse again, event by event. A server
 * context is built by the code that calls `yoga.fetch`, never from a client's request: no client can ask
 * for it.
 */
export const HANDOFF_KEY = 'objectosHandoff';
/** The content type of the (empty) response whose results were handed off. */
export const HANDOFF_CONTENT_TYPE = 'application/x-objectos-handoff';

/** A subscription's results, each the JSON text yoga's SSE writer would have put in a `data:` line. */
export interface HandedTexts {
  next(): Promise<IteratorResult<string, void>>;
  /** Ends the subscription beneath (as an SSE client's cancel does). */
  return(): Promise<IteratorResult<string, void>>;
}

/** Where the results land: the caller puts one in the server context under {@link HANDOFF_KEY}. */
export interface Handoff {
  texts: HandedTexts | null;
}

/** A server context asking for the handoff, and a way to read what was handed. */
export function handoff(): { context: { [HANDOFF_KEY]: Handoff }; taken(response: Response): HandedTexts | null } {
  const holder: Handoff = { texts: null };
  return {
    context: { [HANDOFF_KEY]: holder },
    taken: (response) => ((response.headers.get('content-type') ?? '') === HANDOFF_CONTENT_TYPE ? holder.texts : null),
  };
}

/**
 * Hands a subscription's results (a stream) to the in-process caller that asked for it: the response is
 * empty and the results go into the caller's holder as texts, serialized as yoga's SSE writer would (the
 * result's own `stringify` first: a result shared by a group keeps its one text). A single result (a
 * refusal, an error before the stream) is answered as usual. Register it last: it must choose the result
 * processor after yoga's own.
 */
export function useResultHandoff(): Plugin {
  return {
    onResultProcess({ result, serverContext, setResultProcessor }) {
      const holder = (serverContext as { [HANDOFF_KEY]?: Handoff } | undefined)?.[HANDOFF_KEY];
      if (!holder || !isAsyncIterable(result)) return;
      setResultProcessor((results) => {
        holder.texts = textsOf(results as AsyncIterable<ExecutionResult>);
        return new Response(null, { status: 200, headers: { 'content-type': HANDOFF_CONTENT_TYPE } });
      }, HANDOFF_CONTENT_TYPE);
    },
  };
}

type Stringifiable = ExecutionResult & { stringify?: (r: ExecutionResult) => string; extensions?: { http?: unknown } };

/** As yoga serializes a result: its internals (`http`, `unexpected`) left out of errors and extensions. */
async function textOf(result: Stringifiable): Promise<string> {
  if (result.errors?.length || result.extensions?.http) return processRegularResult(result as Parameters<typeof processRegularResult>[0], { Response } as never, 'application/json').text();
  return (result.stringify ?? JSON.stringify)(result);
}

function textsOf(results: AsyncIterable<ExecutionResult>): HandedTexts {
  const it = results[Symbol.asyncIterator]();
  return {
    async next() {
      for (;;) {
        const r = await it.next();
        if (r.done) return { done: true, value: undefined };
        if (r.value != null) return { done: false, value: await textOf(r.value) };
      }
    },
    async return() {
      await it.return?.();
      return { done: true, value: undefined };
    },
  };
}
