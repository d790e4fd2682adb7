import { Kind, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Db } from '@objectos/db';
import { auditEvent, recordAuditEvents } from '@objectos/events';
import type { AuditConfig } from '@objectos/metadata';
import type { Logger } from '@objectos/observability';
import type { Principal } from '@objectos/principal';

/** Notes one read (a query), for the principal, naming its root fields. */
export interface ReadAudit {
  (principal: Principal, document: DocumentNode, operationName: string | null | undefined, requestId: string | null): void;
  /** Resolves when every read noted before the call is queued (or its failure logged): shutdown, tests. */
  drain(): Promise<void>;
}

const rootFields = (document: DocumentNode, operationName: string | null | undefined): string[] | null => {
  const ops = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  const op = operationName ? ops.find((o) => o.name?.value === operationName) : ops[0];
  if (!op || op.operation !== 'query') return null;
  return op.selectionSet.selections.flatMap((s) => (s.kind === Kind.FIELD && !s.name.value.startsWith('_') ? [s.name.value] : []));
};

/**
 * AuditConfig `logReads`: a `data.read` event for a sampled share (`readSamplingRate`) of the queries of
 * signed-in principals, naming the root fields read. Queued without holding up the answer (a read
 * changes nothing, so there is no write to acknowledge with it); a failure to queue is logged.
 */
export function createReadAudit(db: Db, config: AuditConfig, logger: Logger, random: () => number = Math.random): ReadAudit | null {
  if (!config.enabled || !config.logReads || config.readSamplingRate <= 0) return null;
  const pending = new Set<Promise<void>>();
  const note = (principal: Principal, document: DocumentNode, operationName: string | null | undefined, requestId: string | null): void => {
    if (principal.kind !== 'user' && principal.kind !== 'api_key') return;
    if (random() >= config.readSamplingRate) return;
    const fields = rootFields(document, operationName);
    if (!fields || fields.length === 0) return;
    const event = auditEvent({
      eventType: 'data.read',
      actor: { type: principal.kind === 'api_key' ? 'api_client' : 'user', id: principal.userId },
      tenantId: principal.organizationId,
      requestId,
      description: `read ${fields.join(', ')}`,
      details: { fields, operationName: operationName ?? null, sampledAt: config.readSamplingRate },
    });
    const queued = recordAuditEvents(db, [event])
      .catch((e: unknown) => logger.warn({ err: (e as Error).message }, 'data.read event not queued'))
      .finally(() => pending.delete(queued));
    pending.add(queued);
  };
  return Object.assign(note, { drain: async () => { await Promise.all([...pending]); } });
}

/** The yoga side: every executed query of this subgraph is offered to the read audit. */
export function useReadAudit(audit: ReadAudit, principalOf: (request: Request) => Principal, requestIdOf: (request: Request) => string | null): Plugin {
  return {
    onExecute({ args }) {
      const request = (args.contextValue as { request?: Request }).request;
      if (request) audit(principalOf(request), args.document, args.operationName, requestIdOf(request));
    },
  };
}
