import { sql } from 'drizzle-orm';
import { queryRows, type Db } from '@objectos/db';
import { guestPrincipal, type ResolvePrincipal } from '@objectos/principal';
import type { ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { isGuest } from '@objectos/schema';
import { principalOfRequest } from './use-authentication.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** How long an organization that was not found is not looked up again. */
const RETRY_MS = 10_000;

/**
 * Serves requests without credentials as guests of one organization (OBJECTOS_GUEST_ORGANIZATION, its
 * id or slug): they get the metadata's guest profile (`defaultFor: [guest]`) and guest sharing rules,
 * nothing else. A slug is looked up in the identity tables (in process); until the organization
 * exists, requests without credentials stay anonymous (401).
 */
export function guestResolver(base: ResolvePrincipal, organization: string, db: Db | null): ResolvePrincipal {
  if (!UUID.test(organization) && !db)
    throw new Error(`OBJECTOS_GUEST_ORGANIZATION must be the organization's id when the gateway has no database of its own (services mode), got "${organization}"`);
  let id: string | null = UUID.test(organization) ? organization.toLowerCase() : null;
  let lookedUp = 0;
  const resolveId = async (): Promise<string | null> => {
    if (id || !db || Date.now() - lookedUp < RETRY_MS) return id;
    lookedUp = Date.now();
    const [row] = await queryRows<{ id: string }>(db, sql`select id from auth.organization where slug = ${organization}`);
    id = row?.id ?? null;
    return id;
  };
  return async (credentials) => {
    const r = await base(credentials);
    if (!('principal' in r) || r.principal.kind !== 'anonymous') return r;
    const org = await resolveId();
    return org ? { principal: guestPrincipal(org) } : r;
  };
}

/**
 * A guest's refused selection answers 401, like any request without credentials: validation errors of
 * an application/json request would be 200 by the GraphQL-over-HTTP spec, so the status is set here,
 * from the refusal's code, for anonymous requests only.
 */
export function useGuestRefusals(): Plugin {
  const refused = new WeakSet<Request>();
  return {
    onResultProcess({ request, result }) {
      const results = Array.isArray(result) ? result : [result];
      const unauthenticated = results.some((r) => (r as ExecutionResult).errors?.some((e) => e.extensions?.['code'] === 'UNAUTHENTICATED'));
      if (unauthenticated && isGuest(principalOfRequest(request))) refused.add(request);
    },
    onResponse({ request, response, setResponse }) {
      if (!refused.has(request) || response.status !== 200) return;
      const headers = new Headers(response.headers);
      headers.set('www-authenticate', 'Bearer realm="objectos"');
      setResponse(new Response(response.body, { status: 401, headers }));
    },
  };
}
