import { randomUUID } from 'node:crypto';
import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { httpDuration, httpRequests, metricsEnabled } from './metrics.ts';
import { runWithRequestId } from './request-context.ts';
import { extractTraceContext, tracer } from './tracing.ts';
import { REQUEST_ID_HEADER } from './use-correlated-errors.ts';

const VALID_ID = /^[A-Za-z0-9._:-]{8,80}$/;
const FIXED = new Set(['/graphql', '/health', '/ready', '/metrics', '/', '/.well-known/jwks.json', '/.well-known/objectos-metadata', '/.well-known/objectstack', '/api/v1']);

/**
 * The route label of a path: a fixed route as is, `/api/auth/<first segment>` when that segment is a
 * plain word, and a few prefixes; everything else `other`. Never an id or a token: bounded by construction.
 */
export function routeLabel(path: string): string {
  if (FIXED.has(path)) return path;
  const auth = /^\/api\/auth\/([a-z][a-z0-9-]{0,31})(?:\/|$)/.exec(path);
  if (auth) return `/api/auth/${auth[1]}`;
  if (path.startsWith('/api/auth/')) return '/api/auth/*';
  if (path.startsWith('/console')) return '/console/*';
  // Object names are metadata, not ids, but any path may be asked for: one label for them all.
  if (path === '/api/v1/meta' || path.startsWith('/api/v1/meta/')) return '/api/v1/meta/*';
  return 'other';
}

/**
 * Wraps a node:http listener: every request gets a request id (a valid incoming `x-request-id`, or a
 * new one, set on the request so the GraphQL server uses the same), a server span continuing the
 * caller's `traceparent`, and a count and duration by route and status when it finishes. Everything
 * the listener does runs inside that span and request id (log lines carry both).
 */
export function instrumentListener(service: string, listener: RequestListener): RequestListener {
  return (req: IncomingMessage, res: ServerResponse) => {
    const given = req.headers[REQUEST_ID_HEADER];
    const requestId = typeof given === 'string' && VALID_ID.test(given) ? given : randomUUID();
    req.headers[REQUEST_ID_HEADER] = requestId;
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const route = routeLabel(path);
    const method = req.method === 'GET' || req.method === 'POST' || req.method === 'HEAD' || req.method === 'OPTIONS' ? req.method : 'other';
    const started = performance.now();
    const parent = extractTraceContext(req.headers);
    const span = tracer.startSpan(`${method} ${route}`, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method, 'http.route': route, 'objectos.request_id': requestId, 'objectos.service': service } }, parent);
    res.once('close', () => {
      const status = res.statusCode;
      if (metricsEnabled()) {
        httpRequests.inc({ service, route, method, status: String(status) });
        httpDuration.observe({ service, route }, (performance.now() - started) / 1000);
      }
      span.setAttribute('http.response.status_code', status);
      if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    context.with(trace.setSpan(parent, span), () => runWithRequestId(requestId, () => listener(req, res)));
  };
}
