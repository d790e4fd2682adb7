import { randomUUID } from 'node:crypto';
import type { SQL } from 'drizzle-orm';
import { PgDialect } from 'drizzle-orm/pg-core';
import type { DataSource } from '../data-source.ts';

/** Where a template takes the subscriber's user id: a column of the row set the check statement runs over. */
export const PRINCIPAL = Symbol('principal user id');

export type TemplatePart = string | typeof PRINCIPAL | { param: unknown };

/**
 * A subscriber's row predicate as statement text with its user id left open. Record security depends
 * on the user id only through parameters (owner, `$user.id`, shares with the user); everything else it
 * depends on (permission sets, role, groups, RLS) shapes the text. So subscribers whose access differs
 * by user id alone share one template, and one statement checks an event for all of them: their user
 * ids are rows it runs over (as Hasura multiplexes live queries over session variables).
 */
export interface CheckTemplate {
  /** Text and the values of its own parameters: equal keys, equal predicates for equal user ids. */
  key: string;
  parts: TemplatePart[];
}

const dialect = new PgDialect();
// Stands for the user id while the predicate is built: a value no user id has (random per process).
const SENTINEL = `objectos-principal-${randomUUID()}`;

const mentions = (v: unknown): boolean =>
  typeof v === 'string' ? v.includes(SENTINEL) : Array.isArray(v) ? v.some(mentions) : v !== null && typeof v === 'object' ? JSON.stringify(v).includes(SENTINEL) : false;

function templateOf(statement: SQL, principal: boolean): CheckTemplate | null {
  const { sql: text, params } = dialect.sqlToQuery(statement);
  const parts: TemplatePart[] = [];
  const own: unknown[] = [];
  let last = 0;
  for (const m of text.matchAll(/\$(\d+)\b/g)) {
    parts.push(text.slice(last, m.index));
    const value = params[Number(m[1]) - 1];
    if (principal && value === SENTINEL) parts.push(PRINCIPAL);
    else {
      // The user id inside another value (an array, a text) cannot be left open: no template then.
      if (principal && mentions(value)) return null;
      parts.push({ param: value });
      own.push(value);
    }
    last = m.index + m[0].length;
  }
  parts.push(text.slice(last));
  return { key: `${parts.map((p) => (typeof p === 'string' ? p : p === PRINCIPAL ? '\u0000U' : '\u0000$')).join('')}\u0000${JSON.stringify(own)}`, parts };
}

/** The open template with this user id in place: the same statement as `closed`, part for part? */
function sameFor(open: CheckTemplate, closed: CheckTemplate, userId: string): boolean {
  if (open.parts.length !== closed.parts.length) return false;
  return open.parts.every((x, n) => {
    const y = closed.parts[n]!;
    if (typeof x === 'string' || typeof y === 'string') return x === y;
    if (y === PRINCIPAL) return false;
    return JSON.stringify(x === PRINCIPAL ? userId : x.param) === JSON.stringify(y.param);
  });
}

/**
 * The template of `build(ds)`: built again with the user id replaced by a stand-in, and left open when
 * that gives the very statement built for the real user once the user id is put back. Anything that
 * depends on the user id other than as a value (a sharing rule shared with this one user, the stand-in
 * inside another value, a request without a user) keeps the template closed: this subscriber's own.
 */
export function checkTemplate(ds: DataSource, build: (ds: DataSource) => SQL): CheckTemplate {
  const closed = templateOf(build(ds), false)!;
  const access = ds.sc?.access;
  if (!access || access.userId === null) return closed;
  const stand = { ...ds, actor: SENTINEL, sc: { ...ds.sc!, access: { ...access, userId: SENTINEL } } };
  const open = templateOf(build(stand), true);
  return open && sameFor(open, closed, access.userId) ? open : closed;
}
