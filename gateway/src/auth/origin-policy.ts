import type { Plugin } from 'graphql-yoga';

/** The response headers a page of an allowed origin may read (request headers are echoed from the preflight). */
const EXPOSED_HEADERS = ['set-auth-token', 'x-request-id', 'retry-after'];

export interface OriginPolicy {
  /** The allowed origins, as configured (normalised). */
  readonly origins: readonly string[];
  /**
   * A browser's Origin is allowed: a configured origin (the public URL and OBJECTOS_TRUSTED_ORIGINS), or
   * the endpoint's own (the same host the request was sent to). `null` and malformed origins never are.
   */
  allows(origin: string, host: string | null | undefined): boolean;
  /** Whether a request comes from a browser page of another origin (its Origin, or Fetch Metadata when it has none). */
  foreign(request: Request): boolean;
}

/** Origins are compared as URL origins: `https://app.example.com/` and `https://app.example.com` are one. */
function normalise(origin: string): string {
  try {
    return new URL(origin).origin;
  } catch {
    throw new Error(`allowed origins are URLs such as https://app.example.com, got "${origin}"`);
  }
}

/** One origin policy for every route and transport the gateway serves (HTTP, SSE and the WebSocket upgrade). */
export function createOriginPolicy(configured: readonly string[] = []): OriginPolicy {
  const origins = [...new Set(configured.map(normalise))];
  const allows = (origin: string, host: string | null | undefined): boolean => {
    if (origin === 'null') return false;
    if (origins.includes(origin)) return true;
    try {
      return host !== null && host !== undefined && new URL(origin).host === host;
    } catch {
      return false;
    }
  };
  return {
    origins,
    allows,
    foreign(request) {
      const origin = request.headers.get('origin');
      if (origin !== null) return !allows(origin, new URL(request.url).host);
      // A browser sends no Origin on some requests (a GET navigation); Fetch Metadata still says where it came from.
      return request.headers.get('sec-fetch-site') === 'cross-site';
    },
  };
}

/**
 * The origin policy on HTTP (and SSE, and every WebSocket operation, which run through yoga):
 * - CORS headers only for allowed origins (credentials included); any other origin gets none, so a
 *   browser never lets another site read a response;
 * - a request that carries cookies from a page of another origin is refused (403) before anything
 *   runs, on every route: a cookie is ambient, so such a request is one the user never meant to send.
 *   Bearer tokens and API keys are not ambient and are not affected.
 */
export function useOriginPolicy(policy: OriginPolicy): Plugin {
  return {
    onRequest({ request, endResponse }) {
      if (request.method === 'OPTIONS' || !request.headers.has('cookie') || !policy.foreign(request)) return;
      endResponse(
        Response.json(
          {
            errors: [{
              message: 'Cross-origin request with a session cookie refused: send it from an allowed origin, or authenticate with `Authorization: Bearer <token>` or `x-api-key`.',
              extensions: { code: 'FORBIDDEN' },
            }],
          },
          { status: 403 },
        ),
      );
    },
  };
}

/** yoga's `cors` option from the policy: a factory per request, `false` (no headers) for other origins. */
export function corsOf(policy: OriginPolicy) {
  return (request: Request) => {
    const origin = request.headers.get('origin');
    if (origin === null || !policy.allows(origin, new URL(request.url).host)) return false as const;
    return { origin: [origin], credentials: true, methods: ['GET', 'POST', 'OPTIONS'], exposedHeaders: EXPOSED_HEADERS, maxAge: 600 };
  };
}
