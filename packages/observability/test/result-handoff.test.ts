import { GraphQLError } from 'graphql';
import { createSchema, createYoga, type Plugin } from 'graphql-yoga';
import { describe, expect, it } from 'vitest';
import { handoff, HANDOFF_CONTENT_TYPE, rawResult, useResultHandoff } from '../src/index.ts';

/** A subscription of three events: shared text (a rawResult), a plain result, an error whose `http` extension is yoga's internal. */
function server() {
  const ended = { count: 0 };
  const yoga = createYoga({
    schema: createSchema({
      typeDefs: 'type Query { ok: Boolean } type Subscription { ticks: Int }',
      resolvers: {
        Subscription: {
          ticks: {
            subscribe: async function* () {
              try {
                yield 1;
                yield 2;
                yield 3;
                // Held open until its consumer returns it.
                await new Promise(() => {});
              } finally {
                ended.count++;
              }
            },
            resolve: (n: number) => {
              if (n === 3) throw new GraphQLError('third is refused', { extensions: { code: 'FORBIDDEN', http: { status: 403 } } });
              return n;
            },
          },
        },
      },
    }),
    maskedErrors: false,
    plugins: [
      {
        // The first event as a group's shared text: written as it is, never re-serialized.
        onSubscribe: () => ({
          onSubscribeResult: ({ result, setResult }) => {
            if (!(Symbol.asyncIterator in (result as object))) return;
            const it = (result as AsyncIterable<{ data?: { ticks?: number } }>)[Symbol.asyncIterator]();
            setResult({
              [Symbol.asyncIterator]: () => ({
                next: async () => {
                  const r = await it.next();
                  return r.done || r.value.data?.ticks !== 1 ? r : { done: false, value: rawResult('{"data":{"ticks":1}}') };
                },
                return: async () => (await it.return?.(), { done: true, value: undefined }),
              }),
            } as never);
          },
        }),
      } satisfies Plugin,
      useResultHandoff(),
    ],
  });
  const request = () => new Request('http://x.test/graphql', {
    method: 'POST', headers: { 'content-type': 'application/json', accept: 'text/event-stream' }, body: JSON.stringify({ query: 'subscription { ticks }' }),
  });
  return { yoga, request, ended };
}

/** The `data:` payloads of the first n `next` events of a text/event-stream. */
async function sseTexts(response: Response, n: number): Promise<string[]> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  const texts: string[] = [];
  while (texts.length < n) {
    const chunk = await reader.read();
    if (chunk.done) break;
    buffer += decoder.decode(chunk.value, { stream: true });
    for (const m of buffer.matchAll(/event: next\ndata: (.*)\n\n/g)) texts.push(m[1]!);
    buffer = buffer.slice(buffer.lastIndexOf('\n\n') + 2);
  }
  await reader.cancel();
  return texts;
}

describe('useResultHandoff', () => {
  it('hands an in-process caller the texts an event stream would carry, internals left out; return() ends the subscription', async () => {
    const { yoga, request, ended } = server();
    const viaSse = await sseTexts(await yoga.fetch(request()), 3);
    const h = handoff();
    const response = await yoga.fetch(request(), h.context);
    expect(response.headers.get('content-type')).toBe(HANDOFF_CONTENT_TYPE);
    expect(await response.text()).toBe('');
    const texts = h.taken(response)!;
    const handed = [(await texts.next()).value, (await texts.next()).value, (await texts.next()).value];
    expect(handed).toEqual(viaSse);
    expect(handed[0]).toBe('{"data":{"ticks":1}}');
    expect(JSON.parse(handed[2]!)).toEqual({ data: { ticks: null }, errors: [{ message: 'third is refused', locations: [{ line: 1, column: 16 }], path: ['ticks'], extensions: { code: 'FORBIDDEN' } }] });
    const before = ended.count;
    await texts.return();
    expect(ended.count).toBe(before + 1);
  });

  it('without the server context (any client), and for a single result, the response is as yoga writes it', async () => {
    const { yoga, request } = server();
    const h = handoff();
    const streamed = await yoga.fetch(request());
    expect(streamed.headers.get('content-type')).toContain('text/event-stream');
    expect(h.taken(streamed)).toBeNull();
    expect(await sseTexts(streamed, 1)).toEqual(['{"data":{"ticks":1}}']);
    const single = await yoga.fetch(new Request('http://x.test/graphql', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query":"{ ok }"}' }), h.context);
    expect(single.headers.get('content-type')).toContain('application/');
    expect(h.taken(single)).toBeNull();
    expect(await single.json()).toEqual({ data: { ok: null } });
  });
});
