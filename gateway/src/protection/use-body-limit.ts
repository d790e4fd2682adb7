import { createGraphQLError, type GraphQLParams, type Plugin } from 'graphql-yoga';

const tooLarge = (maxBytes: number) =>
  createGraphQLError(`Request body is larger than ${maxBytes} bytes`, { extensions: { code: 'PAYLOAD_TOO_LARGE', http: { status: 413 } } });

/** Reads a body stream, stopping (and cancelling it) as soon as it passes `maxBytes`. */
async function readLimited(request: Request, maxBytes: number): Promise<string> {
  if (!request.body) return '';
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw tooLarge(maxBytes);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * Refuses request bodies over `maxBytes`: at once from Content-Length when it is given, otherwise while
 * streaming, so a large or endless chunked body is never buffered whole.
 */
export function useBodyLimit(maxBytes: number): Plugin {
  return {
    onRequest({ request, endResponse }) {
      if (request.method !== 'POST') return;
      const n = Number(request.headers.get('content-length') ?? 0);
      if (n > maxBytes)
        endResponse(Response.json({ errors: [{ message: `Request body is larger than ${maxBytes} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] }, { status: 413 }));
    },
    onRequestParse({ request, setRequestParser }) {
      if (request.method !== 'POST' || request.headers.get('content-length') !== null) return;
      if (!(request.headers.get('content-type') ?? '').includes('json')) return;
      setRequestParser(async (req) => {
        const text = await readLimited(req, maxBytes);
        try {
          return JSON.parse(text) as GraphQLParams;
        } catch {
          throw createGraphQLError('POST body sent invalid JSON.', { extensions: { code: 'BAD_REQUEST', http: { status: 400 } } });
        }
      });
    },
  };
}
