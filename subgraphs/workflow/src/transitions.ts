import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { DataRefusal, type DataClient } from '@objectos/automation-subgraph';
import { evaluateRuleCondition, type FieldDefinition, type GuardModel, type StateMachineModel, type TransitionModel } from '@objectos/metadata';
import type { Principal } from '@objectos/principal';
import { accessFor, type CompiledSchema } from '@objectos/schema';
import { approvalOwnedEvents } from './approvals/effects.ts';

export const workflowError = (code: string, message: string): GraphQLError => new GraphQLError(message, { extensions: { code } });

/** A record's place in its machine, for `workflowState`. */
export interface WorkflowStateView {
  machine: string;
  field: string;
  state: string;
  label: string;
  final: boolean;
  availableTransitions: { event: string; label: string; to: string }[];
}

export interface Transitions {
  machineFor(object: string): StateMachineModel;
  /** The record's state and the transitions the caller may take from it; null when the caller cannot read it. */
  state(principal: Principal, object: string, id: string): Promise<WorkflowStateView | null>;
  /** Takes one transition (guards checked) and returns what happened; the actions are queued by `onTaken`. */
  take(principal: Principal, object: string, id: string, event: string, comment: string | null): Promise<{ historyId: string; from: string; to: string; event: string }>;
}

export interface TransitionsOptions {
  compiled: CompiledSchema;
  data: DataClient;
}

/** A caller acting in an organization: a signed-in user or an API key. */
export function member(principal: Principal): { org: string; userId: string } {
  if ((principal.kind !== 'user' && principal.kind !== 'api_key') || !principal.userId) throw workflowError('UNAUTHENTICATED', 'Sign in to see or change workflow states');
  if (!principal.organizationId) throw workflowError('FORBIDDEN', 'You act in no organization: records and their workflows belong to one');
  return { org: principal.organizationId, userId: principal.userId };
}

export function createTransitions(o: TransitionsOptions): Transitions {
  const model = o.compiled.model;
  const fieldsOf = new Map(model.objects.map((ob) => [ob.name, new Map<string, FieldDefinition>(ob.fields.map((f) => [f.name, f]))]));

  /** Per object, the events an approval process takes: nobody takes them with `transition`. */
  const owned = new Map(model.stateMachines.map((m) => [m.object, approvalOwnedEvents(model, m.object)]));

  function machineFor(object: string): StateMachineModel {
    const m = model.stateMachines.find((x) => x.object === object);
    if (!m) throw workflowError('BAD_USER_INPUT', `No state machine governs "${object}" (governed objects: ${model.stateMachines.map((x) => x.object).join(', ') || 'none'})`);
    return m;
  }

  /** Who passes a role or permission guard: the member's role in the hierarchy, organization roles, permission sets and system permissions. */
  function passes(g: GuardModel, principal: Principal, record: Record<string, unknown>, object: string): boolean {
    switch (g.kind) {
      case 'condition':
        return evaluateRuleCondition(g.condition, { record, previous: record, fields: fieldsOf.get(object)! });
      case 'roles':
        return g.roles.some((r) => principal.role === r || principal.roles.includes(r));
      case 'permissions': {
        const access = accessFor(o.compiled.plan, o.compiled.security, principal);
        return g.permissions.some((p) => access.permissionSets.includes(p) || (access.systemPermissions as readonly string[]).includes(p));
      }
    }
  }

  /**
   * Whether the caller may take `t` on this record: its guards pass, and when none of them names who
   * (roles or permissions), the caller may edit the record (or read it, for a machine with defaultAccess read).
   */
  async function allowed(t: TransitionModel, m: StateMachineModel, principal: Principal, org: string, id: string, record: Record<string, unknown>, canEdit: () => Promise<boolean>): Promise<string | null> {
    for (const g of t.guards)
      if (!passes(g, principal, record, m.object))
        return g.kind === 'condition' ? 'its condition is not met' : g.kind === 'roles' ? `it needs one of the roles ${g.roles.join(', ')}` : `it needs one of ${g.permissions.join(', ')}`;
    const names = t.guards.some((g) => g.kind !== 'condition');
    if (!names && m.defaultAccess === 'edit' && !(await canEdit())) return 'you cannot edit this record';
    return null;
  }

  /** The record as the runtime sees it (guards read every field), once the caller is known to be able to read it. */
  async function load(principal: Principal, object: string, id: string): Promise<{ org: string; record: Record<string, unknown> } | null> {
    const { org } = member(principal);
    const seen = await o.data.get(org, object, id, { kind: 'principal', principal }).catch((e: unknown) => {
      if (e instanceof DataRefusal && (e.code === 'NOT_FOUND' || e.code === 'FORBIDDEN' || e.code === 'BAD_USER_INPUT')) return null;
      throw e;
    });
    if (!seen) return null;
    const record = await o.data.get(org, object, id, { kind: 'system' });
    return record ? { org, record } : null;
  }

  return {
    machineFor,
    async state(principal, object, id) {
      const m = machineFor(object);
      const found = await load(principal, object, id);
      if (!found) return null;
      const current = String(found.record[m.field] ?? '');
      const state = m.states.find((s) => s.name === current);
      let editable: Promise<boolean> | null = null;
      const canEdit = () => (editable ??= o.data.canEdit(found.org, object, id, { kind: 'principal', principal }));
      const available = [];
      for (const t of m.transitions.filter((x) => x.from === current && !owned.get(object)?.has(x.event)))
        if ((await allowed(t, m, principal, found.org, id, found.record, canEdit)) === null) available.push({ event: t.event, label: t.label, to: t.to });
      return { machine: m.name, field: m.field, state: current, label: state?.label ?? current, final: state?.final ?? true, availableTransitions: available };
    },
    async take(principal, object, id, event, comment) {
      const m = machineFor(object);
      if (comment !== null && comment.length > 2000) throw workflowError('BAD_USER_INPUT', `comment: at most 2000 characters (got ${comment.length})`);
      const found = await load(principal, object, id);
      if (!found) throw workflowError('NOT_FOUND', `No ${object} with id "${id}" that you can read`);
      const current = String(found.record[m.field] ?? '');
      const from = m.transitions.filter((x) => x.from === current);
      const t = from.find((x) => x.event === event);
      if (!t)
        throw workflowError('BAD_USER_INPUT', `${m.name}: no transition "${event}" from "${current}" (${from.length ? `allowed: ${from.map((x) => `${x.event} (→ ${x.to})`).join(', ')}` : `"${current}" is final`})`);
      const process = owned.get(object)?.get(event);
      if (process) throw workflowError('FORBIDDEN', `${m.name}: "${event}" is taken by the approval process ${process}: use submitForApproval, approve, reject or recall`);
      const refusal = await allowed(t, m, principal, found.org, id, found.record, () => o.data.canEdit(found.org, object, id, { kind: 'principal', principal }));
      if (refusal) throw workflowError('FORBIDDEN', `${m.name}: you cannot take "${event}" on this ${object}: ${refusal}`);
      const historyId = randomUUID();
      try {
        await o.data.transition(found.org, object, id, { [m.field]: t.to }, principal.userId, { id: historyId, machine: m.name, event, from: current, to: t.to, comment });
      } catch (e) {
        // The data subgraph's words (a transition committed meanwhile: CONFLICT), with its code.
        if (e instanceof DataRefusal) throw workflowError(e.code, e.message);
        throw e;
      }
      return { historyId, from: current, to: t.to, event };
    },
  };
}
