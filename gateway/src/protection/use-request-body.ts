import { createGraphQLError, type GraphQLParams, type Plugin } from 'graphql-yoga';
import { readBounded, tooLarge } from './read-bounded.ts';

const reject = (status: number, code: string, message: string) => createGraphQLError(message, { extensions: { code, http: { status } } });
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Reads JSON request bodies itself: refused over `maxBytes` (at once from Content-Length, otherwise
 * while streaming, so an endless chunked body is never buffered whole), refused when the bytes are not
 * valid UTF-8 (no silent replacement characters), refused when the JSON does not parse.
 */
export function useRequestBody(maxBytes: number): Plugin {
  return {
    onRequestParse({ request, setRequestParser }) {
      if (request.method !== 'POST' || !(request.headers.get('content-type') ?? '').includes('json')) return;
      setRequestParser(async (req) => {
        const bytes = await readBounded(req, maxBytes);
        if (bytes === 'too large') throw tooLarge(maxBytes);
        let text: string;
        try {
          text = strictUtf8.decode(bytes);
        } catch {
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
