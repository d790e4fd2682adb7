import type { ExecutionResult } from 'graphql';
import type { HandedTexts } from '@objectos/observability';

/** One operation's results as an async generator whose `return()` ends it at once (aborting the request). */
export interface ResultStream extends AsyncGenerator<ExecutionResult, void, unknown> {}

/**
 * The results of a yoga response: a single JSON result, or a text/event-stream of `next` events ended
 * by `complete`. `return()` aborts the underlying request immediately, even while a read is pending
 * (a native async generator would wait for the next event first). `read` makes a result of an event's
 * text (JSON.parse unless told: a caller passing text through unparsed gives a raw result).
 */
export function resultStream(response: Response, abort: () => void, read: (text: string) => ExecutionResult = (text) => JSON.parse(text) as ExecutionResult): ResultStream {
  const queue: ExecutionResult[] = [];
  let done = false;
  let completed = false;
  let single: Promise<void> | null = null;
  const contentType = response.headers.get('content-type') ?? '';
  const reader = contentType.includes('text/event-stream') ? response.body!.getReader() : null;
  const decoder = new TextDecoder();
  let buffer = '';

  const finish = (): IteratorResult<ExecutionResult, void> => {
    if (!done) {
      // Cancelling the body ends yoga's stream (and, through it, the subgraph's); aborting ends the request.
      reader?.cancel().catch(() => {});
      abort();
    }
    done = true;
    return { value: undefined, done: true };
  };

  /** Parses complete SSE events out of the buffer; returns false once `complete` was seen. */
  const parseEvents = (): boolean => {
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const raw = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      let event = 'message';
      const data: string[] = [];
      for (const line of raw.split('\n')) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (event === 'complete') return false;
      if (data.length > 0) queue.push(read(data.join('\n')));
    }
    return true;
  };

  const stream: ResultStream = {
    async next() {
      if (!reader) {
        if (!single) single = response.json().then((r) => void queue.push(r as ExecutionResult));
        await single;
        const value = queue.shift();
        return value && !done ? { value, done: false } : finish();
      }
      for (;;) {
        if (done) return { value: undefined, done: true };
        const value = queue.shift();
        if (value) return { value, done: false };
        if (completed) return finish();
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch {
          return finish();
        }
        if (chunk.done) return finish();
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, '\n');
        if (!parseEvents()) completed = true;
      }
    },
    async return() {
      return finish();
    },
    async throw(e) {
      finish();
      throw e;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return stream;
}

/**
 * The results an in-process yoga handed over as texts (`useResultHandoff`), as a {@link ResultStream}:
 * the same results as {@link resultStream} reads from the SSE it would have written, without the stream.
 * `return()` ends the subscription beneath and aborts the request, even while a read is pending.
 */
export function handedStream(texts: HandedTexts, abort: () => void, read: (text: string) => ExecutionResult = (text) => JSON.parse(text) as ExecutionResult): ResultStream {
  let done = false;
  const finish = (): IteratorResult<ExecutionResult, void> => {
    if (!done) {
      done = true;
      texts.return().catch(() => {});
      abort();
    }
    return { value: undefined, done: true };
  };
  const stream: ResultStream = {
    async next() {
      if (done) return { value: undefined, done: true };
      let r: IteratorResult<string, void>;
      try {
        r = await texts.next();
      } catch {
        return finish();
      }
      if (r.done || done) return finish();
      return { value: read(r.value), done: false };
    },
    async return() {
      return finish();
    },
    async throw(e) {
      finish();
      throw e;
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
  return stream;
}
