import { audienceKey, signRequest, SYSTEM, type Principal } from '@objectos/principal';
import { accessFor, type ColumnPlan, type DataPlan, type ObjectPlan, type SecurityPlan } from '@objectos/schema';
import { sql } from 'drizzle-orm';
import { loadMemberAccess, loadOrganizationRoles, queryRows, type SqlRunner } from '@objectos/db';
import type { AutomationCause } from '@objectos/events';
import { injectTraceContext } from '@objectos/observability';

/** Whom a rule's record writes act as: the runtime (system context, every record of the tenant) or the user whose change ran it. */
export type RunAs = { kind: 'system'; owner?: string } | { kind: 'user'; userId: string } | { kind: 'principal'; principal: Principal };

/** A keyed write: done once per key however often its job runs; the change carries its rule and depth. */
export interface WriteEffect {
  key: string;
  automation: AutomationCause;
}

/** What the data subgraph accepts as one transition of a state field (see its state guard). */
export interface TransitionGrant {
  id: string;
  machine: string;
  event: string;
  from: string;
  to: string;
  comment: string | null;
}

/** A refusal the data subgraph answered (validation, tenant wall, not found): retrying cannot help. */
export class DataRefusal extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'DataRefusal';
  }
}

/**
 * Rule writes and reads go through the data subgraph's own GraphQL API, signed like the gateway's calls:
 * validation, record security and the tenant wall apply as to any client. Values are keyed by metadata
 * field names (`close_date`, `account` for a lookup's id) on both sides.
 */
export interface DataClient {
  create(org: string, object: string, values: Record<string, unknown>, as: RunAs, effect: WriteEffect): Promise<{ id: string }>;
  update(org: string, object: string, id: string, values: Record<string, unknown>, as: RunAs, effect: WriteEffect): Promise<{ id: string }>;
  /**
   * Deletes a record as `as` may (object, record and tenant security; cascades as for any client). The
   * effect key goes with it; a repeat of a delete that committed finds no record (NOT_FOUND).
   */
  delete(org: string, object: string, id: string, as: RunAs, effect: WriteEffect): Promise<{ id: string }>;
  /** The record as `as` may read it (fields it cannot read are absent), or null. */
  get(org: string, object: string, id: string, as: RunAs): Promise<Record<string, unknown> | null>;
  /**
   * Moves a record's state field along a transition the workflow subgraph has checked: written in system
   * context as `actorId` with the signed grant, so the data subgraph accepts exactly this change.
   */
  transition(org: string, object: string, id: string, values: Record<string, unknown>, actorId: string | null, grant: TransitionGrant): Promise<{ id: string }>;
  /** Whether `as` may edit the record (object, record and tenant security): an update of no field, which changes nothing. */
  canEdit(org: string, object: string, id: string, as: RunAs): Promise<boolean>;
  /** One page of records in id order, as `as` may read them. */
  list(org: string, object: string, offset: number, limit: number, as: RunAs): Promise<Record<string, unknown>[]>;
}

export interface DataClientOptions {
  plan: DataPlan;
  /** The data subgraph: its in-process fetch (embedded) or an HTTP fetch to DATA_URL. */
  fetch: (request: Request) => Promise<Response>;
  url: string;
  secret: string;
  /** Where members' roles and permission sets are read (runAs user). */
  db: SqlRunner;
  /**
   * The security model compiled from the same metadata: a read as a user then asks only for the fields
   * that user can read, so the others are absent from the record (the data subgraph would answer them as
   * null, which a script cannot tell from an empty field).
   */
  security: SecurityPlan;
}

interface GraphQLAnswer { data?: Record<string, unknown> | null; errors?: { message: string; extensions?: { code?: string } }[] }

export function createDataClient(o: DataClientOptions): DataClient {
  const key = audienceKey(o.secret, 'data');
  const planOf = (object: string): ObjectPlan => {
    const p = o.plan.objects[object];
    if (!p) throw new Error(`unknown object ${object}`);
    return p;
  };

  async function principalFor(org: string, as: RunAs): Promise<Principal> {
    // System context: an organization owner without a user (sees and may change every record of the tenant).
    // `owner`: what it creates belongs to that member (a task for its assignee).
    if (as.kind === 'system') return { ...SYSTEM, organizationId: org, roles: ['owner'], userId: as.owner ?? null };
    // The caller's own signed principal (the workflow subgraph acting for the user of a request).
    if (as.kind === 'principal') return as.principal;
    const roles = await loadOrganizationRoles(o.db, org, as.userId);
    if (roles === null) throw new DataRefusal(`the rule runs as user ${as.userId}, who is no longer a member of this organization`, 'FORBIDDEN');
    const access = await loadMemberAccess(o.db, org, as.userId);
    return { ...SYSTEM, kind: 'user', userId: as.userId, organizationId: org, roles, role: access.role, permissionSets: access.permissionSets, groups: access.groups };
  }

  /** The columns a read as `principal` asks for: every column in system context, those it can read as a user. */
  function readableColumns(p: ObjectPlan, principal: Principal): ColumnPlan[] {
    if (principal.kind === 'system') return p.columns;
    const access = accessFor(o.plan, o.security, principal).objects[p.object.name];
    return p.columns.filter((c) => c.field === null || (access?.fields[c.field.name]?.readable ?? false));
  }

  async function call(principal: Principal, query: string, variables: Record<string, unknown>, extensions?: Record<string, unknown>): Promise<Record<string, unknown>> {
    // The W3C trace context rides along (outside the signature, like any header): the data subgraph's work
    // for a job's action is part of the job's trace, across processes too.
    const request = new Request(o.url, {
      method: 'POST', headers: injectTraceContext({ 'content-type': 'application/json' }),
      body: JSON.stringify({ query, variables, ...(extensions ? { extensions } : {}) }),
    });
    const response = await o.fetch(await signRequest(request, key, 'data', principal));
    const text = await response.text();
    let answer: GraphQLAnswer;
    try {
      answer = JSON.parse(text) as GraphQLAnswer;
    } catch {
      throw new Error(`the data subgraph answered ${response.status}: ${text.slice(0, 200)}`);
    }
    const error = answer.errors?.[0];
    if (error) {
      const code = error.extensions?.code ?? 'INTERNAL_SERVER_ERROR';
      // Client-side refusals are final; anything else (a crash, a timeout) may pass on a retry.
      if (['BAD_USER_INPUT', 'FORBIDDEN', 'NOT_FOUND', 'CONFLICT', 'GRAPHQL_VALIDATION_FAILED'].includes(code)) throw new DataRefusal(error.message, code);
      throw new Error(`the data subgraph failed: ${error.message}`);
    }
    if (!answer.data) throw new Error(`the data subgraph answered ${response.status} without data`);
    return answer.data;
  }

  /**
   * In system context a record carries its `owner_id` (what `owner` recipients and assignees name), which
   * the API does not serve: read from its table, in the same organization.
   */
  async function withOwners(p: ObjectPlan, org: string, records: Record<string, unknown>[], principal: Principal): Promise<Record<string, unknown>[]> {
    if (principal.kind !== 'system' || records.length === 0) return records;
    const rows = await queryRows<{ id: string; owner_id: string | null }>(o.db, sql`select id::text as id, owner_id from ${sql.identifier(p.table)}
      where organization_id = ${org} and id = any(${sql.param(records.map((r) => String(r['id'])))}::uuid[])`);
    const owners = new Map(rows.map((r) => [r.id, r.owner_id]));
    return records.map((r) => ({ ...r, owner_id: owners.get(String(r['id'])) ?? null }));
  }

  /** Metadata names → GraphQL input names (a lookup `account` is written as `accountId`). */
  const toInput = (p: ObjectPlan, values: Record<string, unknown>): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(values)) {
      const c = p.columns.find((x) => x.field !== null && x.name === name);
      if (!c) throw new DataRefusal(`${p.object.name} has no field "${name}"`, 'BAD_USER_INPUT');
      out[c.graphqlName] = value;
    }
    return out;
  };
  const effectExtensions = (effect: WriteEffect) => ({ objectos: { effectKey: effect.key, automation: effect.automation } });

  return {
    async create(org, object, values, as, effect) {
      const p = planOf(object);
      const data = await call(await principalFor(org, as), `mutation($input: ${p.typeName}CreateInput!) { r: ${p.createMutation}(input: $input) { id } }`, { input: toInput(p, values) }, effectExtensions(effect));
      return data['r'] as { id: string };
    },
    async update(org, object, id, values, as, effect) {
      const p = planOf(object);
      const data = await call(await principalFor(org, as), `mutation($id: ID!, $input: ${p.typeName}UpdateInput!) { r: ${p.updateMutation}(id: $id, input: $input) { id } }`, { id, input: toInput(p, values) }, effectExtensions(effect));
      return data['r'] as { id: string };
    },
    async delete(org, object, id, as, effect) {
      const p = planOf(object);
      const data = await call(await principalFor(org, as), `mutation($id: ID!) { r: ${p.deleteMutation}(id: $id) { id } }`, { id }, effectExtensions(effect));
      return data['r'] as { id: string };
    },
    async transition(org, object, id, values, actorId, grant) {
      const p = planOf(object);
      const principal: Principal = { ...SYSTEM, organizationId: org, roles: ['owner'], userId: actorId };
      const data = await call(principal, `mutation($id: ID!, $input: ${p.typeName}UpdateInput!) { r: ${p.updateMutation}(id: $id, input: $input) { id } }`, { id, input: toInput(p, values) }, { objectos: { transition: grant } });
      return data['r'] as { id: string };
    },
    async canEdit(org, object, id, as) {
      const p = planOf(object);
      try {
        await call(await principalFor(org, as), `mutation($id: ID!) { r: ${p.updateMutation}(id: $id, input: {}) { id } }`, { id });
        return true;
      } catch (e) {
        if (e instanceof DataRefusal && (e.code === 'FORBIDDEN' || e.code === 'NOT_FOUND')) return false;
        throw e;
      }
    },
    async get(org, object, id, as) {
      const p = planOf(object);
      const principal = await principalFor(org, as);
      const data = await call(principal, `query($id: ID!) { r: ${p.singleField}(id: $id) { ${readableColumns(p, principal).map((c) => c.graphqlName).join(' ')} } }`, { id });
      const row = data['r'] as Record<string, unknown> | null;
      if (!row) return null;
      const [record] = await withOwners(p, org, [byMetadataName(p, row)], principal);
      return record!;
    },
    async list(org, object, offset, limit, as) {
      const p = planOf(object);
      const principal = await principalFor(org, as);
      const data = await call(principal, `query($n: Int!, $o: Int!) { r: ${p.listField}(first: $n, offset: $o, orderBy: [{ field: ID }]) { nodes { ${readableColumns(p, principal).map((c) => c.graphqlName).join(' ')} } } }`, { n: limit, o: offset });
      return withOwners(p, org, (data['r'] as { nodes: Record<string, unknown>[] }).nodes.map((row) => byMetadataName(p, row)), principal);
    },
  };
}

/** A record as the API answers it (GraphQL names), keyed by metadata names; fields the caller cannot read are absent. */
const byMetadataName = (p: ObjectPlan, row: Record<string, unknown>): Record<string, unknown> =>
  Object.fromEntries(p.columns.filter((c) => c.graphqlName in row).map((c) => [c.name, row[c.graphqlName]]));
