import type { StateMachineModel } from '@objectos/metadata';
import type { ObjectPlan } from '@objectos/schema';
import { recordStateTransition, type SqlRunner } from '@objectos/db';
import type { Principal } from '@objectos/principal';
import { isUuid } from '../sql/where.ts';
import { badInput, dataError } from '../errors.ts';
import type { Row } from '../data-source.ts';

/**
 * What the workflow subgraph signs for one transition (`extensions.objectos.transition`): this record's
 * state field may go from `from` to `to`, and the change is recorded as `event` with `id`.
 */
export interface TransitionGrant {
  id: string;
  machine: string;
  event: string;
  from: string;
  to: string;
  comment: string | null;
}

/** The state fields of each object (GraphQL input name → its machine). */
export type StateGuards = ReadonlyMap<string, { column: string; machine: StateMachineModel }[]>;

export function stateGuards(machines: readonly StateMachineModel[], plan: Record<string, ObjectPlan>): StateGuards {
  const out = new Map<string, { column: string; machine: StateMachineModel }[]>();
  for (const m of machines) {
    const column = plan[m.object]?.columns.find((c) => c.field?.name === m.field)?.graphqlName;
    if (column) out.set(m.object, [...(out.get(m.object) ?? []), { column, machine: m }]);
  }
  return out;
}

const SNAKE = /^[a-z][a-z0-9_]{0,62}$/;

/**
 * The transition grant a request carries: only the runtime's own system principal may (the workflow
 * subgraph signs it after checking the transition's guards); from anyone else it is ignored. A malformed
 * one is refused.
 */
export function transitionOf(principal: Principal, extensions: unknown): TransitionGrant | null {
  const t = ((extensions as { objectos?: { transition?: unknown } } | null | undefined)?.objectos)?.transition;
  if (t === undefined || principal.kind !== 'system') return null;
  const g = t as Partial<Record<keyof TransitionGrant, unknown>>;
  const names = [g.machine, g.event, g.from, g.to];
  if (typeof g !== 'object' || g === null || !isUuid(g.id) || !names.every((n) => typeof n === 'string' && SNAKE.test(n))
    || !(g.comment === null || g.comment === undefined || (typeof g.comment === 'string' && g.comment.length <= 2000)))
    throw new Error('extensions.objectos.transition must be { id (uuid), machine, event, from, to (snake_case names), comment (≤ 2000 characters or null) }');
  return { id: g.id as string, machine: g.machine as string, event: g.event as string, from: g.from as string, to: g.to as string, comment: (g.comment as string | null | undefined) ?? null };
}

const allowed = (m: StateMachineModel, from: string): string => {
  const out = m.transitions.filter((t) => t.from === from).map((t) => `${t.event} (→ ${t.to})`);
  return out.length ? `allowed transitions from "${from}": ${out.join(', ')}` : `"${from}" is final: no transition leaves it`;
};

/**
 * The state fields of a write: every create and update path calls this before it writes (so no other
 * write path can bypass a machine). A new record starts in its machine's initial state; a state changes
 * only with a grant for exactly this change. Returns the values to write (the initial state filled in).
 */
export function guardStateFields(guards: StateGuards | undefined, p: ObjectPlan, values: Record<string, unknown>, before: Row | null, grant: TransitionGrant | null): Record<string, unknown> {
  const fields = guards?.get(p.object.name);
  if (grant && before === null) throw new Error('a transition grant applies to an update, not a create');
  if (!fields) {
    if (grant) throw dataError('BAD_USER_INPUT', `${p.typeName} has no state machine: a transition cannot be applied to it`);
    return values;
  }
  const out = { ...values };
  for (const { column, machine } of fields) {
    const value = values[column];
    if (before === null) {
      if (value === undefined || value === null) out[column] = machine.initial;
      else if (value !== machine.initial)
        throw badInput(p.typeName, [{ field: column, constraint: 'state_machine', message: `${column}: a new ${p.typeName} starts in "${machine.initial}" (the initial state of ${machine.name}); from there it changes only by transition: ${allowed(machine, machine.initial)}` }]);
      continue;
    }
    const current = String(before[column] ?? '');
    const granted = grant?.machine === machine.name;
    if (granted) {
      // The grant was signed for the state the workflow subgraph saw; a transition committed since wins.
      if (current !== grant.from) throw dataError('CONFLICT', `This ${p.typeName} is now in "${current}", not "${grant.from}": the transition ${grant.event} no longer applies (${allowed(machine, current)})`);
      if (value !== grant.to || Object.keys(values).length !== 1) throw new Error(`a transition grant writes only ${column} = ${grant.to}`);
      continue;
    }
    if (value !== undefined && value !== current)
      throw badInput(p.typeName, [{ field: column, constraint: 'state_machine', message: `${column} changes only through the state machine ${machine.name}, with the transition mutation: ${allowed(machine, current)}` }]);
  }
  if (grant && !fields.some((f) => f.machine.name === grant.machine)) throw dataError('BAD_USER_INPUT', `No state machine ${grant.machine} governs ${p.typeName}`);
  return out;
}

/** The history row of a granted transition, in the write's transaction. */
export async function recordGrantedTransition(tx: SqlRunner, grant: TransitionGrant | null, p: ObjectPlan, row: Row, tenant: string, actorId: string | null): Promise<void> {
  if (!grant) return;
  await recordStateTransition(tx, {
    id: grant.id, organizationId: tenant, object: p.object.name, recordId: row.id, machine: grant.machine, event: grant.event,
    from: grant.from, to: grant.to, actorId, comment: grant.comment,
  });
}
