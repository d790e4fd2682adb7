import type { ObjectName } from './oracle.ts';

/**
 * The formula and roll-up fields the oracle's worlds carry: their metadata, and what each reads as the
 * documented rule says (the field itself, each field it names, each lookup it walks, and for a roll-up the
 * child's lookup to the parent and the child fields it aggregates or filters on). Written by hand, not
 * derived from the product's dependency analysis, so the oracle stays independent of it.
 */
export interface ComputedField {
  object: 'parent' | 'child';
  name: string;
  graphql: string;
  yaml: string;
  reads: [ObjectName, string][];
  /** A count: filters compare it with small thresholds. */
  count: boolean;
}

const sumOf = (child: string, field: string, fn: string) => `type: summary, summaryOperations: { object: ${child}, field: ${field}, function: ${fn} }`;

export const COMPUTED: ComputedField[] = [
  { object: 'parent', name: 'child_total', graphql: 'childTotal', yaml: sumOf('child', 'amount', 'sum'), reads: [['child', 'parent'], ['child', 'amount']], count: false },
  { object: 'parent', name: 'child_count', graphql: 'childCount', yaml: 'type: summary, summaryOperations: { object: child, function: count }', reads: [['child', 'parent']], count: true },
  {
    object: 'parent', name: 'big_children', graphql: 'bigChildren', yaml: 'type: summary, summaryOperations: { object: child, function: count, filter: "amount >= 50" }',
    reads: [['child', 'parent'], ['child', 'amount']], count: true,
  },
  { object: 'parent', name: 'detail_max', graphql: 'detailMax', yaml: sumOf('detail', 'amount', 'max'), reads: [['detail', 'parent'], ['detail', 'amount']], count: false },
  { object: 'child', name: 'doubled', graphql: 'doubled', yaml: 'type: formula, expression: "amount * 2"', reads: [['child', 'amount']], count: false },
  { object: 'child', name: 'parent_amount', graphql: 'parentAmount', yaml: 'type: formula, expression: "parent.amount"', reads: [['child', 'parent'], ['parent', 'amount']], count: false },
  // A lookup to a roll-up: the parent's children as this reader sees them, and only when the parent is readable.
  { object: 'child', name: 'parent_total', graphql: 'parentTotal', yaml: 'type: formula, expression: "parent.child_total"', reads: [['child', 'parent'], ['parent', 'child_total']], count: false },
];

export const computedOf = (o: ObjectName, name: string): ComputedField | undefined => COMPUTED.find((c) => c.object === o && c.name === name);
