import { createHash } from 'node:crypto';
import { stableStringify, type MetadataModel } from '@objectos/metadata';
import { hasWorkflow } from '@objectos/schema';

/** What identifies a metadata model: every part of it (the model's own `hash` covers the objects only). */
export const fingerprintOf = (model: MetadataModel): string => createHash('sha256').update(stableStringify(model)).digest('hex');

/**
 * Parts the job runtime (rules, schedules, notifications, flows, state actions) or sign-in read once,
 * at start: a reload serves the new API and schema, but these keep working as they started.
 */
const AT_START: Partial<Record<keyof MetadataModel, string>> = {
  rules: 'workflow rules', jobs: 'jobs', templates: 'templates', connectors: 'connectors', flows: 'flows',
  stateMachines: 'state machine actions', approvals: 'approval escalations', policies: 'policies', defaultPolicy: 'the default policy',
};
const OTHER_PARTS: (keyof MetadataModel)[] = ['security', 'audit'];

const same = (a: unknown, b: unknown): boolean => stableStringify(a) === stableStringify(b);

/** `+invoice, -memo, ~account; security changed`: what the reload changed, in one line. */
export function describeChange(before: MetadataModel, after: MetadataModel): { summary: string; atStart: string[] } {
  const old = new Map(before.objects.map((o) => [o.name, o]));
  const next = new Map(after.objects.map((o) => [o.name, o]));
  const objects = [
    ...[...next.keys()].filter((n) => !old.has(n)).map((n) => `+${n}`),
    ...[...old.keys()].filter((n) => !next.has(n)).map((n) => `-${n}`),
    ...[...next.entries()].filter(([n, o]) => old.has(n) && !same(old.get(n), o)).map(([n]) => `~${n}`),
  ];
  const atStart = Object.entries(AT_START).filter(([k]) => !same(before[k as keyof MetadataModel], after[k as keyof MetadataModel])).map(([, label]) => label!);
  // Sign-in reads the SSO mappings (*.sso.yaml) once, like the policies.
  if (!same(before.security.ssoMappings, after.security.ssoMappings)) atStart.push('SSO mappings');
  if (!same(before.security.scimMappings, after.security.scimMappings)) atStart.push('SCIM mappings');
  const other = OTHER_PARTS.filter((k) => !same(before[k], after[k]));
  const parts = [objects.length ? objects.join(', ') : 'no object changed', ...(other.length ? [`${other.join(', ')} changed`] : [])];
  return { summary: parts.join('; '), atStart };
}

/** `database: 1 table created, 2 columns added`: what the migration did that a developer asked for ('' when nothing). */
export function describeMigration(migration: { applied: boolean; statements: readonly string[] }): string {
  if (!migration.applied) return '';
  // Every run also restates defaults, constraints and indexes: only new tables and columns are news.
  const tables = migration.statements.filter((s) => /^create table /i.test(s)).length;
  const columns = migration.statements.filter((s) => /^alter table \S+ add column /i.test(s)).length;
  const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? '' : 's'}`;
  const news = [...(tables ? [`${plural(tables, 'table')} created`] : []), ...(columns ? [`${plural(columns, 'column')} added`] : [])];
  return `database ${news.length ? `migrated: ${news.join(', ')}` : 'migrated'}`;
}

/**
 * A change only a restart can apply (what registers on the job queue is registered once, at start), or
 * null. `started` is the metadata the process started with; `workflow`: the workflow subgraph runs here.
 */
export function needsRestart(started: MetadataModel, after: MetadataModel, workflow: boolean): string | null {
  if (!workflow && hasWorkflow(after)) return 'the metadata now has state machines, approvals or flows, and the workflow subgraph only starts with the process';
  if (started.flows.length === 0 && after.flows.length > 0) return 'the metadata now has flows, and the flow runtime registers on the job queue at start';
  if (started.approvals.length === 0 && after.approvals.length > 0) return 'the metadata now has approval processes, and their handlers register on the job queue at start';
  return null;
}
