import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines } from '@objectos/testkit';
import { readBounded } from '../src/protection/read-bounded.ts';
import { startRealtimeStack, type RealtimeStack } from './realtime-stack.ts';

// Security regression class "body bounds": every route the gateway serves bounds its request body while
// streaming, whatever the route (GraphQL, the identity proxy, unknown paths) and whether or not the
// client declares a length. A route added later joins ROUTES. (WebSocket messages are bounded by the
// socket's frame limit: realtime-parity and realtime-abuse.)

const LIMIT = 1_048_576;
/** What one hostile upload sends at most, and how long it may take: enough to show buffering, bounded. */
const UPLOAD_BYTES = 48 * 1_048_576;
const UPLOAD_MS = 20_000;

const ROUTES: Record<string, { path: string; type: string }> = {
  'POST /graphql': { path: '/graphql', type: 'application/json' },
  'POST /api/auth/sign-in/email': { path: '/api/auth/sign-in/email', type: 'application/json' },
  'POST /api/auth/sign-up/email': { path: '/api/auth/sign-up/email', type: 'application/json' },
  'POST /api/auth/organization/create': { path: '/api/auth/organization/create', type: 'application/json' },
  'POST /api/auth/sso/register': { path: '/api/auth/sso/register', type: 'application/json' },
  'POST /api/auth/sso/request-domain-verification': { path: '/api/auth/sso/request-domain-verification', type: 'application/json' },
  'POST /api/auth/sso/verify-domain': { path: '/api/auth/sso/verify-domain', type: 'application/json' },
  'POST /api/auth/sign-in/sso': { path: '/api/auth/sign-in/sso', type: 'application/json' },
  'POST /api/auth/sso/saml2/sp/acs/x': { path: '/api/auth/sso/saml2/sp/acs/x', type: 'application/x-www-form-urlencoded' },
  // SCIM provisioning (#21): a provider's user and group writes.
  'POST /api/auth/scim/v2/Users': { path: '/api/auth/scim/v2/Users', type: 'application/scim+json' },
  'POST /api/auth/scim/v2/Groups': { path: '/api/auth/scim/v2/Groups', type: 'application/scim+json' },
  'POST /unknown': { path: '/unknown', type: 'application/octet-stream' },
  // Health, readiness, metrics and the JWKS answer GET only: a body sent there is an unknown route's.
  'POST /health': { path: '/health', type: 'application/json' },
  'POST /ready': { path: '/ready', type: 'application/json' },
  'POST /metrics': { path: '/metrics', type: 'application/json' },
  // The audit export answers GET only: a body sent there is refused 405, unread.
  'POST /api/audit/export': { path: '/api/audit/export', type: 'application/json' },
  // Metadata discovery answers GET only, like the audit export.
  'POST /api/v1/meta/objects': { path: '/api/v1/meta/objects', type: 'application/json' },
  'POST /.well-known/objectstack': { path: '/.well-known/objectstack', type: 'application/json' },
};
/** Routes that refuse a chunked body unread, with their status. */
const UNREAD: Record<string, number> = { '/unknown': 404, '/health': 404, '/ready': 404, '/metrics': 404, '/api/audit/export': 405, '/api/v1/meta/objects': 405, '/.well-known/objectstack': 405 };

interface Upload { status: number; sent: number; body: string }

/**
 * A chunked upload (no Content-Length) that keeps sending until the server answers or closes, up to
 * UPLOAD_BYTES and UPLOAD_MS. A `declared` length sends Content-Length instead of chunked encoding.
 */
function upload(url: string, type: string, auth: Record<string, string>, declared?: number): Promise<Upload> {
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    let answered = false;
    const started = Date.now();
    const req = httpRequest(url, {
      method: 'POST',
      // A connection of its own: the unread rest of a refused body must not reach another request.
      agent: false,
      headers: { 'content-type': type, 'x-graphql-yoga-csrf': '1', ...auth, ...(declared !== undefined ? { 'content-length': String(declared) } : { 'transfer-encoding': 'chunked' }) },
    });
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => {
        req.destroy();
        resolve({ status: res.statusCode ?? 0, sent, body });
      });
    });
    req.on('error', (e) => (answered ? undefined : reject(e)));
    const pump = () => {
      while (!answered && sent < (declared ?? UPLOAD_BYTES) && Date.now() - started < UPLOAD_MS) {
        sent += chunk.byteLength;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!answered) req.end();
    };
    pump();
  });
}

describe.each(engines())('every route bounds its body on $name', (engine) => {
  let s: RealtimeStack;
  // Signed in, so that /graphql gets as far as reading the body (anonymous requests are refused unread).
  let auth: Record<string, string>;
  beforeAll(async () => {
    s = await startRealtimeStack(engine);
    auth = (await s.user('bounds@body.test', 'Boundsco')).headers;
  });
  afterAll(() => s?.close());
  const at = (path: string) => new URL(path, s.url).toString();

  it.each(Object.keys(ROUTES))('%s: a declared length over the limit is refused 413 before reading', async (route) => {
    const { path, type } = ROUTES[route]!;
    const r = await upload(at(path), type, auth, LIMIT + 1);
    expect(r.status).toBe(413);
  });

  it.each(Object.keys(ROUTES))('%s: a chunked body past the limit is refused (413, or 404/405 unread for a route without a body) without being read whole', async (route) => {
    const { path, type } = ROUTES[route]!;
    const r = await upload(at(path), type, auth);
    expect(r.status).toBe(UNREAD[path] ?? 413);
    if (r.status === 413) expect(r.body).toMatch(/PAYLOAD_TOO_LARGE|too large/);
    // Answered long before the whole upload went out: the server stopped at the limit.
    expect(r.sent).toBeLessThan(UPLOAD_BYTES);
  });

  it('three parallel chunked uploads to every route keep the server\'s memory bounded', async () => {
    global.gc?.();
    const before = process.memoryUsage().rss;
    let peak = before;
    const sample = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    try {
      for (const route of Object.keys(ROUTES)) {
        const { path, type } = ROUTES[route]!;
        const results = await Promise.all([0, 1, 2].map(() => upload(at(path), type, auth)));
        for (const r of results) expect(r.status, route).toBeGreaterThanOrEqual(400);
      }
    } finally {
      clearInterval(sample);
    }
    const grew = (peak - before) / 1_048_576;
    console.log(`body bounds (${engine.name}): RSS ${Math.round(before / 1_048_576)} MiB → peak ${Math.round(peak / 1_048_576)} MiB (+${grew.toFixed(1)} MiB) for 3 parallel chunked uploads of up to ${UPLOAD_BYTES / 1_048_576} MiB × ${Object.keys(ROUTES).length} routes`);
    // Buffering even one upload whole would add 48 MiB per request; bounded reading adds a few MiB.
    expect(grew).toBeLessThan(64);
  }, 120_000);
});

describe('readBounded, the reader every route uses', () => {
  const body = (n: number) => 'x'.repeat(n);
  it('reads a body within its declared length in one go, and refuses one past the limit however it is declared', async () => {
    const ok = await readBounded(new Request('http://gw.test/', { method: 'POST', headers: { 'content-length': '100' }, body: body(100) }), 1_000);
    expect(ok).toBeInstanceOf(ArrayBuffer);
    expect((ok as ArrayBuffer).byteLength).toBe(100);
    // Declared over the limit: refused before reading.
    expect(await readBounded(new Request('http://gw.test/', { method: 'POST', headers: { 'content-length': '5000' }, body: body(10) }), 1_000)).toBe('too large');
    // In process nothing enforces the header: a body longer than it declares is still measured.
    expect(await readBounded(new Request('http://gw.test/', { method: 'POST', headers: { 'content-length': '10' }, body: body(5_000) }), 1_000)).toBe('too large');
    // No declared length (a stream): counted while reading.
    const stream = new ReadableStream<Uint8Array>({ pull: (c) => c.enqueue(new Uint8Array(512)) });
    expect(await readBounded(new Request('http://gw.test/', { method: 'POST', body: stream, duplex: 'half' } as RequestInit), 1_000)).toBe('too large');
  });
});
