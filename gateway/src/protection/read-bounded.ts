import { createGraphQLError, type Plugin } from 'graphql-yoga';

/** The error a body past the limit ends with (HTTP 413, code PAYLOAD_TOO_LARGE). */
export const tooLarge = (maxBytes: number) =>
  createGraphQLError(`Request body is larger than ${maxBytes} bytes`, { extensions: { code: 'PAYLOAD_TOO_LARGE', http: { status: 413 } } });

const isTooLarge = (e: unknown): boolean => (e as { extensions?: { code?: unknown } } | null)?.extensions?.code === 'PAYLOAD_TOO_LARGE';

/**
 * Reads a request body, stopping (and cancelling the stream) as soon as it passes `maxBytes`: an
 * endless chunked body is never buffered whole. A declared Content-Length over the limit is refused
 * before reading anything.
 */
export async function readBounded(request: Request, maxBytes: number): Promise<ArrayBuffer | 'too large'> {
  const declared = request.headers.get('content-length');
  if (Number(declared ?? 0) > maxBytes) return 'too large';
  if (declared !== null) {
    // Over HTTP, Node's parser never delivers more than the declared length: read it in one go (no web
    // stream reader, which costs more than the JSON parse of a small body). In process, check anyway.
    const whole = await request.arrayBuffer();
    return whole.byteLength > maxBytes ? 'too large' : whole;
  }
  if (!request.body) return new ArrayBuffer(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        return 'too large';
      }
      chunks.push(value);
    }
  } catch (e) {
    if (isTooLarge(e)) return 'too large';
    throw e;
  }
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out.buffer;
}

/** The body, as a stream that errors (413) and cancels its source once more than `maxBytes` went through. */
function bounded(body: ReadableStream<Uint8Array>, maxBytes: number): ReadableStream<Uint8Array> {
  let size = 0;
  const reader = body.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const { done, value } = await reader.read();
      if (done) return controller.close();
      size += value.byteLength;
      if (size > maxBytes) {
        await reader.cancel().catch(() => {});
        return controller.error(tooLarge(maxBytes));
      }
      controller.enqueue(value);
    },
    cancel: (reason) => reader.cancel(reason),
  });
}

/**
 * The body limit of every route the gateway serves (GraphQL, the identity proxy, and any route added
 * later), applied first: a declared Content-Length over the limit is refused at once (413); a body
 * without one (chunked) is wrapped so that whoever reads it gets a 413 error past the limit instead of
 * more bytes. Nothing ever holds more than the limit of one request body in memory.
 */
export function useBodyLimit(maxBytes: number): Plugin {
  return {
    onRequest({ request, setRequest, endResponse, fetchAPI }) {
      if (request.method === 'GET' || request.method === 'HEAD' || !request.body) return;
      const declared = request.headers.get('content-length');
      if (declared !== null && Number(declared) <= maxBytes) return;
      if (declared !== null)
        return endResponse(Response.json({ errors: [{ message: `Request body is larger than ${maxBytes} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] }, { status: 413 }));
      // `duplex` is required by fetch for a streamed body, and missing from this RequestInit type.
      const init: RequestInit & { duplex: 'half' } = { method: request.method, headers: request.headers, signal: request.signal, body: bounded(request.body, maxBytes), duplex: 'half' };
      setRequest(new fetchAPI.Request(request.url, init));
    },
  };
}
