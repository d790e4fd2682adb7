import { createHash, randomUUID } from 'node:crypto';
import type { Plugin } from 'graphql-yoga';
import { CLIENT_IP_HEADER, SYSTEM, credentialsOf, signPrincipal } from '@objectos/principal';
import { REQUEST_ID_HEADER, injectTraceContext } from '@objectos/observability';
import type { PrincipalCache } from './principal-cache.ts';
import { clientAddress, ipKey } from '../protection/client-ip.ts';
import { tooManyRequests, type Limiter } from '../protection/use-rate-limit.ts';
import { readBounded } from '../protection/read-bounded.ts';
import { recordSignIn } from './auth-metrics.ts';

export const AUTH_BASE_PATH = '/api/auth';
const MAX_AUTH_BODY = 64 * 1024;
/** SCIM 2.0 provisioning (identity's SCIM instance). */
const SCIM_PREFIX = `${AUTH_BASE_PATH}/scim/v2/`;
const MAX_SCIM_BODY = 512 * 1024;
/** Routes that check a secret: rate-limited per account and IP. */
const GUARDED = /^\/api\/auth\/(sign-in\/email|sign-in\/email-otp|email-otp\/send-verification-otp|two-factor\/verify-(totp|backup-code|otp)|two-factor\/send-otp|sign-in\/sso|sso\/verify-domain|sso\/callback(\/[^/]+)?|sso\/saml2\/sp\/acs\/[^/]+|callback\/[^/]+)$/;
const TWO_FACTOR_COOKIE = /(?:^|;\s*)(?:__Secure-)?better-auth\.two_factor=([^;]*)/;

export interface IdentityProxyOptions {
  /** Where the identity subgraph's HTTP routes live (in process or over HTTP). */
  fetch: (request: Request) => Promise<Response>;
  baseUrl: string;
  /** The identity subgraph's key (`audienceKey(secret, 'identity')`). */
  key: string;
  trustProxy: boolean;
  /** 3 attempts per 10 s per account and IP. */
  perAccount: Limiter;
  /** Ceiling per IP whatever the account (password spraying). */
  perIp: Limiter;
  /** SCIM requests per provisioning token (per IP for requests without one). */
  scim: Limiter;
  /** The caller's cached principal is dropped after any successful change through these routes. */
  principals: PrincipalCache;
}

/**
 * Serves better-auth's routes at /api/auth/* through the gateway: the client address is set by the
 * gateway, the request is signed like every subgraph call, and sign-in / 2FA attempts are limited
 * per account and IP (IPv6 by /64) before they reach the identity subgraph.
 */
export function useIdentityProxy(o: IdentityProxyOptions): Plugin {
  /** Client addresses refused SCIM until a time: too many requests with tokens that are not live (counted with the sign-in ceiling). */
  const scimRefused = new Map<string, number>();
  return {
    async onRequest({ request, url, serverContext, endResponse }) {
      // `//sign-in/email` is the same route (GHSA-x732-6j76-qmhm): normalise before matching anything.
      const path = url.pathname.replace(/\/{2,}/g, '/');
      if (path !== AUTH_BASE_PATH && !path.startsWith(`${AUTH_BASE_PATH}/`)) return;
      const ip = clientAddress(request, serverContext, o.trustProxy) ?? 'unknown';
      // Streamed and bounded: a chunked body past the limit is cancelled, never buffered whole.
      // A SCIM group write lists up to 1,000 members.
      const read = await readBounded(request, path.startsWith(SCIM_PREFIX) ? MAX_SCIM_BODY : MAX_AUTH_BODY);
      if (read === 'too large') return endResponse(Response.json({ error: { code: 'PAYLOAD_TOO_LARGE', message: 'request body too large' } }, { status: 413 }));
      const body = request.method === 'GET' || request.method === 'HEAD' ? null : read;
      // An identity provider's sync has its own budget per token: bursts of hundreds of users are normal.
      if (path.startsWith(SCIM_PREFIX)) {
        const until = scimRefused.get(ipKey(ip)) ?? 0;
        if (until > Date.now()) return endResponse(tooManyRequests(Math.ceil((until - Date.now()) / 1000), 'SCIM requests without a valid token'));
        const token = /^Bearer\s+(.+)$/i.exec(request.headers.get('authorization') ?? '')?.[1]?.trim();
        const retry = await o.scim.consume(token ? `token:${createHash('sha256').update(token).digest('base64url').slice(0, 22)}` : `ip:${ipKey(ip)}`);
        if (retry !== null) return endResponse(tooManyRequests(retry, 'SCIM requests'));
      }
      if (GUARDED.test(path)) {
        const account = accountOf(path, body, request.headers, url.searchParams);
        const bucket = ipKey(ip);
        const retry = (await o.perIp.consume(`${path}|${bucket}`)) ?? (await o.perAccount.consume(`${path}|${bucket}|${account}`));
        if (retry !== null) return endResponse(tooManyRequests(retry, 'attempts'));
      }
      const headers = new Headers(request.headers);
      for (const h of [...headers.keys()]) if (h.startsWith('x-objectos-')) headers.delete(h);
      headers.set(CLIENT_IP_HEADER, ip);
      // The request id of the audit events this call causes: the client's (if well formed) or a new one, echoed back.
      const given = request.headers.get(REQUEST_ID_HEADER);
      const requestId = given && /^[A-Za-z0-9._:-]{8,80}$/.test(given) ? given : randomUUID();
      headers.set(REQUEST_ID_HEADER, requestId);
      // The identity process continues this request's trace (not a traceparent the client sent).
      headers.delete('traceparent');
      headers.delete('tracestate');
      for (const [k, v] of Object.entries(injectTraceContext({}))) headers.set(k, v);
      const target = new URL(path + url.search, o.baseUrl);
      // Signed for identity, this route and this body: the pair cannot serve another auth call.
      for (const [k, v] of Object.entries(signPrincipal(SYSTEM, o.key, { audience: 'identity', method: request.method, url: target, body }))) headers.set(k, v);
      const response = await o.fetch(new Request(target, { method: request.method, headers, ...(body ? { body } : {}), redirect: 'manual' }));
      if (GUARDED.test(path)) recordSignIn(path, response.status);
      // Guessing tokens: each new guess has a fresh per-token budget, so refusals count against the address.
      if (path.startsWith(SCIM_PREFIX) && response.status === 401) {
        const retry = await o.perIp.consume(`scim-refused|${ipKey(ip)}`);
        if (retry !== null) {
          if (scimRefused.size > 10_000) for (const [k, t] of scimRefused) if (t <= Date.now()) scimRefused.delete(k);
          scimRefused.set(ipKey(ip), Date.now() + retry * 1000);
        }
      }
      // Joining, switching or leaving an organization changes the caller's principal: the next request
      // must see it. (Changes that affect other users come as events, see principal-cache.ts.)
      if (body && response.ok) o.principals.forget(credentialsOf(request.headers));
      // A copy with its own headers: fetch's are immutable, and the body arrives already decoded.
      const out = new Headers(response.headers);
      out.delete('content-encoding');
      out.delete('content-length');
      out.set(REQUEST_ID_HEADER, requestId);
      if (fromBrowser(request.headers)) return endResponse(await withoutSessionTokens(response, out));
      endResponse(new Response(response.body, { status: response.status, statusText: response.statusText, headers: out }));
    },
  };
}

/**
 * A request a browser may have sent: it carries cookies or an Origin. (Not "no Authorization header":
 * better-auth ignores a malformed one and falls back to the cookie, so a script could add junk to get
 * the cookie's session token back in the body.)
 */
const fromBrowser = (h: Headers): boolean => h.has('cookie') || h.has('origin');

/**
 * The session token never reaches a browser in a body: a cookie client's credential is its cookie
 * (httpOnly, out of scripts' reach), and a token in a readable body (get-session, list-sessions, a
 * sign-in) would turn any script or cross-origin read into a bearer credential. Clients that want a
 * bearer token read the `set-auth-token` header of the response that created the session (sign-in,
 * a finished second factor, an impersonation); CORS exposes it to allowed origins only.
 */
async function withoutSessionTokens(response: Response, headers: Headers): Promise<Response> {
  const init = { status: response.status, statusText: response.statusText, headers };
  if (!(headers.get('content-type') ?? '').includes('json')) return new Response(response.body, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return new Response(text, init);
  }
  return new Response(JSON.stringify(json, (k, v: unknown) => (k === 'token' ? undefined : v)), init);
}

function accountOf(path: string, body: ArrayBuffer | null, headers: Headers, search: URLSearchParams): string {
  // Password and one-time-code sign-ins of an address share its budget; code sends have their own.
  if (path.endsWith('/sign-in/email') || path.endsWith('/sign-in/email-otp') || path.endsWith('/email-otp/send-verification-otp')) {
    const kind = path.endsWith('/send-verification-otp') ? 'otp-send' : 'email';
    try {
      const email = (JSON.parse(new TextDecoder().decode(body ?? new ArrayBuffer(0))) as { email?: unknown }).email;
      return typeof email === 'string' ? `${kind}:${email.trim().toLowerCase()}` : `${kind}:none`;
    } catch {
      return `${kind}:none`;
    }
  }
  // SSO: a sign-in names its address (or provider, or organization); a domain check (DNS lookups) its provider.
  if (path.endsWith('/sso/verify-domain')) {
    try {
      const id = (JSON.parse(new TextDecoder().decode(body ?? new ArrayBuffer(0))) as { providerId?: unknown }).providerId;
      return `sso-verify:${typeof id === 'string' ? id : 'none'}`;
    } catch {
      return 'sso-verify:none';
    }
  }
  if (path.endsWith('/sign-in/sso')) {
    try {
      const b = JSON.parse(new TextDecoder().decode(body ?? new ArrayBuffer(0))) as Record<string, unknown>;
      const who = [b['email'], b['providerId'], b['organizationSlug'], b['domain']].find((v) => typeof v === 'string') as string | undefined;
      return `sso:${who?.trim().toLowerCase() ?? 'none'}`;
    } catch {
      return 'sso:none';
    }
  }
  // A provider's answer (SSO, social, generic OAuth): each sign-in flow (its state in the query, or the
  // SAML RelayState in the posted form) has its own budget; the IP ceiling bounds them all.
  if (path.includes('/saml2/sp/acs/')) return `saml-acs:${new URLSearchParams(new TextDecoder().decode(body ?? new ArrayBuffer(0))).get('RelayState') ?? 'none'}`;
  if (path.includes('/sso/') || path.includes('/callback/')) return `sso-callback:${search.get('state') ?? 'none'}`;
  // 2FA: the pending sign-in is identified by its signed two_factor cookie.
  return `2fa:${TWO_FACTOR_COOKIE.exec(headers.get('cookie') ?? '')?.[1] ?? 'none'}`;
}
