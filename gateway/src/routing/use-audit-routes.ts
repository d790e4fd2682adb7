import type { Plugin } from 'graphql-yoga';
import type { AuditEvent } from '@objectos/events';
import { REQUEST_ID_HEADER } from '@objectos/observability';
import { AUDIT_EVENTS_ENDPOINT, AUDIT_EXPORT_ENDPOINT, PRINCIPAL_HEADER, SYSTEM, encodePrincipal } from '@objectos/principal';
import { principalOfRequest } from '../auth/use-authentication.ts';
import type { Sender } from './senders.ts';

/** The audit trail's streaming export through the one endpoint: `GET /api/audit/export?format=ndjson|csv&…`. */
export const AUDIT_EXPORT_PATH = '/api/audit/export';

const problem = (status: number, code: string, message: string) => Response.json({ error: { code, message } }, { status });

/**
 * Forwards the export to the audit subgraph, signed for it with the caller's principal (authenticated
 * like a GraphQL request), and streams the answer back unbuffered.
 */
export function useAuditExport(audit: () => Sender | undefined): Plugin {
  return {
    async onRequest({ request, url, endResponse }) {
      if (url.pathname !== AUDIT_EXPORT_PATH) return;
      if (request.method !== 'GET') return endResponse(problem(405, 'METHOD_NOT_ALLOWED', 'the export is a GET'));
      const to = audit();
      if (!to) return endResponse(problem(404, 'NOT_FOUND', 'no audit subgraph is composed'));
      const target = new URL(`${AUDIT_EXPORT_ENDPOINT}${url.search}`, to.url);
      const requestId = request.headers.get(REQUEST_ID_HEADER);
      const response = await to.send(target.href, {
        method: 'GET',
        headers: { [PRINCIPAL_HEADER]: encodePrincipal(principalOfRequest(request)), ...(requestId ? { [REQUEST_ID_HEADER]: requestId } : {}) },
      });
      const headers = new Headers();
      for (const h of ['content-type', 'content-disposition', 'cache-control']) {
        const v = response.headers.get(h);
        if (v) headers.set(h, v);
      }
      endResponse(new Response(response.body, { status: response.status, headers }));
    },
  };
}

/** The gateway's own audit events (aggregated denials) to the audit subgraph's queue, as the system, 200 per call. */
export function auditSink(audit: () => Sender | undefined): (events: AuditEvent[]) => Promise<void> {
  return async (events) => {
    const to = audit();
    if (!to) return;
    for (let i = 0; i < events.length; i += 200) {
      const body = JSON.stringify(events.slice(i, i + 200));
      const response = await to.send(new URL(AUDIT_EVENTS_ENDPOINT, to.url).href, {
        method: 'POST', headers: { 'content-type': 'application/json', [PRINCIPAL_HEADER]: encodePrincipal(SYSTEM) }, body,
      });
      await response.body?.cancel().catch(() => {});
      if (!response.ok) throw new Error(`the audit subgraph refused ${events.length} events: HTTP ${response.status}`);
    }
  };
}
