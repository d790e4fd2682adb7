import { createGraphQLError, type GraphQLParams, type Plugin } from 'graphql-yoga';

const reject = (status: number, code: string, message: string) => createGraphQLError(message, { extensions: { code, http: { status } } });
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Reads a body stream, stopping (and cancelling it) as soon as it passes `maxBytes`. */
async function readLimited(request: Request, maxBytes: number): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array();
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel();
      throw reject(413, 'PAYLOAD_TOO_LARGE', `Request body is larger than ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/**
 * Reads JSON request bodies itself: refused over `maxBytes` (at once from Content-Length, otherwise
 * while streaming, so an endless chunked body is never buffered whole), refused when the bytes are not
 * valid UTF-8 (no silent replacement characters), refused when the JSON does not parse.
 */
export function useRequestBody(maxBytes: number): Plugin {
  return {
    onRequest({ request, endResponse }) {
      if (request.method !== 'POST') return;
      const n = Number(request.headers.get('content-length') ?? 0);
      if (n > maxBytes)
        endResponse(Response.json({ errors: [{ message: `Request body is larger than ${maxBytes} bytes`, extensions: { code: 'PAYLOAD_TOO_LARGE' } }] }, { status: 413 }));
    },
    onRequestParse({ request, setRequestParser }) {
      if (request.method !== 'POST' || !(request.headers.get('content-type') ?? '').includes('json')) return;
      setRequestParser(async (req) => {
        let text: string;
        try {
          text = strictUtf8.decode(await readLimited(req, maxBytes));
        } catch (e) {
          if ((e as { extensions?: unknown }).extensions) throw e;
          throw reject(400, 'BAD_REQUEST', 'Request body is not valid UTF-8');
        }
        try {
          return JSON.parse(text) as GraphQLParams;
        } catch {
          throw reject(400, 'BAD_REQUEST', 'POST body sent invalid JSON.');
        }
      });
    },
  };
}
