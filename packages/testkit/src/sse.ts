import type { GraphQLResult } from './graphql.ts';

/** A live subscription over HTTP (text/event-stream), parsed independently of the gateway's own code. */
export interface SseSubscription<T = Record<string, unknown>> {
  status: number;
  results: GraphQLResult<T>[];
  /** Each result's text as it came (the `data:` lines of its event). */
  texts: string[];
  completed: boolean;
  /** Resolves when `n` results arrived (or the stream ended); rejects after `ms`. */
  until(n: number, ms?: number): Promise<GraphQLResult<T>[]>;
  /** Waits `ms` and returns what arrived (to show that nothing more did). */
  settle(ms?: number): Promise<GraphQLResult<T>[]>;
  close(): void;
}

export async function subscribeSse<T = Record<string, unknown>>(
  fetchFn: (r: Request) => Promise<Response>, query: string, variables?: Record<string, unknown>, url = 'http://objectos.test/graphql',
): Promise<SseSubscription<T>> {
  const ctrl = new AbortController();
  const res = await fetchFn(new Request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
    body: JSON.stringify({ query, ...(variables ? { variables } : {}) }),
    signal: ctrl.signal,
  }));
  const results: GraphQLResult<T>[] = [];
  const texts: string[] = [];
  let reader: ReadableStreamDefaultReader<Uint8Array> | null = null;
  const sub: SseSubscription<T> = {
    status: res.status,
    results,
    texts,
    completed: false,
    async until(n, ms = 10_000) {
      const deadline = Date.now() + ms;
      while (results.length < n && !sub.completed) {
        if (Date.now() > deadline) throw new Error(`waited ${ms} ms for ${n} events, got ${results.length}: ${JSON.stringify(results)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
      return results;
    },
    async settle(ms = 500) {
      await new Promise((r) => setTimeout(r, ms));
      return results;
    },
    // What a disconnecting client does: the request is aborted and its body cancelled (in process, only
    // the cancellation reaches yoga's stream).
    close: () => {
      ctrl.abort();
      reader?.cancel().catch(() => {});
    },
  };
  if (!(res.headers.get('content-type') ?? '').includes('text/event-stream')) {
    const text = await res.text();
    texts.push(text);
    results.push(JSON.parse(text) as GraphQLResult<T>);
    sub.completed = true;
    return sub;
  }
  void (async () => {
    reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done } = await reader!.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = block.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
          if (event === 'complete') sub.completed = true;
          else if (data) {
            texts.push(data);
            results.push(JSON.parse(data) as GraphQLResult<T>);
          }
        }
      }
    } catch {
      // Aborted.
    }
    sub.completed = true;
  })();
  return sub;
}
