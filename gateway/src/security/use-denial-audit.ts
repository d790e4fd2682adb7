import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { AccessDenial, AccessDeniedAggregator } from '@objectos/events';
import { REQUEST_ID_HEADER } from '@objectos/observability';
import type { Principal } from '@objectos/principal';
import { clientAddress } from '../protection/client-ip.ts';
import { principalOfRequest } from '../auth/use-authentication.ts';

/** The codes that mean "you may not": what security.access_denied counts. */
export const DENIAL_CODES: ReadonlySet<string> = new Set(['FORBIDDEN', 'UNAUTHENTICATED', 'USER_BANNED']);

/** A refusal as the audit trail records it: who (or from where), in which tenant, why, in which request. */
export function denialOf(request: Request, serverContext: unknown, trustProxy: boolean, principal: Principal, code: string, reason: string): AccessDenial {
  const kind = principal.kind;
  return {
    actor: {
      type: kind === 'api_key' ? 'api_client' : kind === 'system' ? 'system' : 'user',
      id: principal.userId,
      ipAddress: clientAddress(request, serverContext, trustProxy) ?? null,
      userAgent: request.headers.get('user-agent')?.slice(0, 512) ?? null,
    },
    tenantId: principal.organizationId,
    code,
    reason,
    requestId: request.headers.get(REQUEST_ID_HEADER),
  };
}

/**
 * Every GraphQL answer that refuses something (shield, validation, a subgraph's FORBIDDEN) is noted as
 * a denial; the aggregator turns a flood of them into a bounded number of security.access_denied events.
 */
export function useDenialAudit(denials: AccessDeniedAggregator, trustProxy: boolean): Plugin {
  return {
    onResultProcess({ request, result, serverContext }) {
      if (!result || typeof result !== 'object' || Array.isArray(result) || !('errors' in result)) return;
      const errors = (result as ExecutionResult).errors ?? [];
      const refused = errors.find((e) => e instanceof GraphQLError && DENIAL_CODES.has(String(e.extensions?.['code'])));
      if (!refused) return;
      const n = errors.filter((e) => DENIAL_CODES.has(String(e.extensions?.['code']))).length;
      const reason = n > 1 ? `${refused.message} (and ${n - 1} more refusals)` : refused.message;
      denials.note(denialOf(request, serverContext, trustProxy, principalOfRequest(request), String(refused.extensions['code']), reason));
    },
  };
}
