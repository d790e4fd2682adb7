import type { MetadataIssue, MetadataModel } from '../src/index.ts';
import { issuesOf as ruleIssuesOf, parse as ruleParse } from './rule-fixture.ts';

/** What flows need besides the rule fixture (demo objects, roles, the crm connector): a leave request object and a permission set. */
export const FLOW_EXTRAS: Record<string, string> = {
  'objects/leave_request.object.yaml': `name: leave_request
fields:
  name: { type: text, required: true }
  days: { type: number }
  note: { type: text }
  approved: { type: boolean }
  start_date: { type: date }
  status:
    type: select
    options:
      - { label: Open, value: open }
      - { label: Approved, value: approved }
  code: { type: autonumber }
`,
  'security/flow_starter.permission.yaml': `name: flow_starter
objects:
  leave_request: { allowRead: true }
`,
};

export const parse = (files: Record<string, string>): MetadataModel => ruleParse({ ...FLOW_EXTRAS, ...files });
export const issuesOf = (files: Record<string, string>): MetadataIssue[] => ruleIssuesOf({ ...FLOW_EXTRAS, ...files });

/** 1-based line of the first line of `text` containing `needle`. */
export function lineOf(text: string, needle: string): number {
  const i = text.split('\n').findIndex((l) => l.includes(needle));
  if (i < 0) throw new Error(`"${needle}" is not in the YAML`);
  return i + 1;
}

const VARIABLES = `  - { name: n, type: number, default: 0 }
  - { name: t, type: text }
  - { name: flag, type: boolean }
  - { name: items, type: list }
  - { name: when, type: date }
  - { name: data, type: json }
  - { name: req, type: record, object: leave_request }
`;

/**
 * A flow named `f` with the variables n (number), t (text), flag (boolean), items (list), when (date),
 * data (json) and req (a leave_request record), the nodes `start` and `done` (end) plus `nodes`, and `edges`.
 */
export function flow(nodes: string, edges: string, opts: { head?: string; variables?: string; name?: string } = {}): string {
  return `name: ${opts.name ?? 'f'}
${opts.head ?? 'type: autolaunched'}
variables:
${opts.variables ?? VARIABLES}nodes:
  - { id: start, type: start }
  - { id: done, type: end }
${nodes}edges:
${edges}`;
}

/** start → `id` → done, with `node` the YAML list item of node `id`. */
export const single = (id: string, node: string, opts: { head?: string; variables?: string; name?: string } = {}): string =>
  flow(`${node}\n`, `  - { id: e1, source: start, target: ${id} }\n  - { id: e2, source: ${id}, target: done }\n`, opts);
