import { describe, expect, it } from 'vitest';
import { MetadataError, parseMetadata, type ComputedModel, type MetadataIssue } from '../src/index.ts';

/** Formula and roll-up (summary) fields (#19 point 7): each loads parsed and typed; each mistake is refused at load, located and named. */

const ACCOUNT = `name: account
fields:
  name: { type: text, required: true }
  region: { type: select, options: [{ label: North, value: north }, { label: South, value: south }] }
  revenue: { type: currency }
`;
const PROJECT = `name: project
fields:
  name: { type: text, required: true }
  account: { type: lookup, reference: account }
  budget: { type: currency }
  start: { type: date }
  tags: { type: multiselect, options: [{ label: A, value: a }] }
`;
const ITEM = `name: item
fields:
  name: { type: text }
  project: { type: lookup, reference: project }
  hours: { type: number }
  rate: { type: currency }
  done: { type: boolean }
  due: { type: date }
`;

const load = (extra: { project?: string; item?: string; account?: string } = {}) =>
  parseMetadata([
    { file: 'objects/account.object.yaml', text: ACCOUNT + (extra.account ?? '') },
    { file: 'objects/project.object.yaml', text: PROJECT + (extra.project ?? '') },
    { file: 'objects/item.object.yaml', text: ITEM + (extra.item ?? '') },
  ]);
const computed = (object: string, field: string, extra: Parameters<typeof load>[0]): ComputedModel =>
  load(extra).objects.find((o) => o.name === object)!.fields.find((f) => f.name === field)!.computed!;

function issuesOf(extra: Parameters<typeof load>[0]): MetadataIssue[] {
  try {
    load(extra);
  } catch (e) {
    expect(e).toBeInstanceOf(MetadataError);
    return (e as MetadataError).issues;
  }
  throw new Error('expected the metadata to be refused');
}
const messages = (extra: Parameters<typeof load>[0]) => issuesOf(extra).map((i) => `${i.path} ${i.message}`);

describe('computed field metadata', () => {
  it('types a formula from its expression, through lookups two hops deep, and keeps what it reads', () => {
    const m = computed('item', 'label', { item: '  label: { type: formula, expression: "upper(name) || \' / \' || project.account.name" }\n' });
    expect(m).toMatchObject({ kind: 'formula', type: 'text' });
    expect(m.deps).toEqual([
      { object: 'item', field: 'name' },
      { object: 'item', field: 'project' }, { object: 'project', field: 'account' }, { object: 'account', field: 'name' },
    ]);
    expect(computed('item', 'cost', { item: '  cost: { type: formula, expression: "hours * rate", returnType: currency }\n' }).type).toBe('currency');
    expect(computed('project', 'ends', { project: '  ends: { type: formula, expression: "start + 30" }\n' }).type).toBe('date');
    expect(computed('project', 'big', { project: "  big: { type: formula, expression: \"CASE WHEN budget > 1000 THEN 'big' ELSE 'small' END\" }\n" }).type).toBe('text');
    expect(computed('project', 'south', { project: "  south: { type: formula, expression: \"IF(account.region = 'south', true, false)\" }\n" }).type).toBe('boolean');
  });

  it('reads a roll-up of a child object, through its lookup, optionally filtered, and chains formulas over roll-ups', () => {
    const m = computed('project', 'open_hours', {
      project: '  open_hours: { type: summary, summaryOperations: { object: item, field: hours, function: sum, filter: "done = false" } }\n',
    });
    expect(m).toMatchObject({ kind: 'summary', type: 'number', fn: 'sum', child: 'item', via: 'project', field: 'hours' });
    expect(m.deps).toEqual([{ object: 'item', field: 'project' }, { object: 'item', field: 'hours' }, { object: 'item', field: 'done' }]);
    const spent = computed('project', 'left', {
      item: '  cost: { type: formula, expression: "hours * rate", returnType: currency }\n',
      project: '  spent: { type: summary, summaryOperations: { object: item, field: cost, function: sum } }\n  left: { type: formula, expression: "budget - spent" }\n',
    });
    expect(spent.type).toBe('number');
    expect(computed('project', 'last_due', { project: '  last_due: { type: summary, summaryOperations: { object: item, field: due, function: max } }\n' }).type).toBe('date');
    expect(computed('project', 'item_count', { project: '  item_count: { type: summary, summaryOperations: { object: item, function: count } }\n' }).type).toBe('number');
  });

  it('refuses a formula cycle, directly, through a lookup and through a roll-up, naming the cycle', () => {
    expect(messages({ project: '  a: { type: formula, expression: "b + 1" }\n  b: { type: formula, expression: "a * 2" }\n' })).toEqual(expect.arrayContaining([
      expect.stringMatching(/fields\.a\.expression project\.a: formula cycle: project\.a → project\.b → project\.a/),
      expect.stringMatching(/fields\.b\.expression project\.b: formula cycle: project\.b → project\.a → project\.b/),
    ]));
    expect(messages({ project: '  self: { type: formula, expression: "self" }\n' })).toEqual([expect.stringMatching(/formula cycle: project\.self → project\.self/)]);
    // A roll-up over a child formula that reads the roll-up back through the child's lookup.
    const loop = messages({
      item: '  share: { type: formula, expression: "hours / project.total" }\n',
      project: '  total: { type: summary, summaryOperations: { object: item, field: share, function: sum } }\n',
    });
    expect(loop).toEqual(expect.arrayContaining([expect.stringMatching(/formula cycle: project\.total → item\.share → project\.total/)]));
  });

  it('refuses a roll-up over an object that is not a child, and other roll-up mistakes, naming them', () => {
    expect(messages({ item: '  accounts: { type: summary, summaryOperations: { object: account, function: count } }\n' })).toEqual([
      expect.stringMatching(/summaryOperations item\.accounts: summaryOperations\.object: account is not a child of item \(none of its lookup or master_detail fields references item\)/),
    ]);
    expect(messages({ project: '  x: { type: summary, summaryOperations: { object: nothing, function: count } }\n' })).toEqual([expect.stringMatching(/unknown object "nothing"/)]);
    expect(messages({ project: '  x: { type: summary, summaryOperations: { object: item, function: sum } }\n' })).toEqual([expect.stringMatching(/sum needs the child field it aggregates/)]);
    expect(messages({ project: '  x: { type: summary, summaryOperations: { object: item, field: name, function: sum } }\n' })).toEqual([expect.stringMatching(/sum needs a number field; item\.name is text/)]);
    expect(messages({ project: '  x: { type: summary, summaryOperations: { object: item, field: done, function: max } }\n' })).toEqual([expect.stringMatching(/max needs a number, date or date-time field/)]);
    expect(messages({ project: '  x: { type: summary, summaryOperations: { object: item, function: count, filter: "hours" } }\n' })).toEqual([expect.stringMatching(/filter must be a condition \(true or false\), not number/)]);
    expect(messages({ project: '  x: { type: summary, summaryOperations: { object: item, function: count, relationship: name } }\n' })).toEqual([expect.stringMatching(/item\.name is not a lookup to project \(those are: project\)/)]);
    expect(messages({
      item: '  other: { type: lookup, reference: project, relationshipName: other_items }\n',
      project: '  x: { type: summary, summaryOperations: { object: item, function: count } }\n',
    })).toEqual([expect.stringMatching(/item has several lookups to project \(project, other\): name the one to roll up through/)]);
  });

  it('refuses formulas that do not type, name unknown things or use what is not offered', () => {
    const bad = (expression: string, extra = '') => messages({ project: `  f: { type: formula, expression: ${JSON.stringify(expression)}${extra} }\n` });
    expect(bad('name + 1')).toEqual([expect.stringMatching(/\+ cannot combine text and number/)]);
    expect(bad('nothing')).toEqual([expect.stringMatching(/"nothing": project has no field "nothing"/)]);
    expect(bad('budget.x')).toEqual([expect.stringMatching(/project\.budget is not a lookup field/)]);
    expect(bad('tags')).toEqual([expect.stringMatching(/project\.tags is a multiselect field: formulas read text, numbers/)]);
    expect(bad('eval(name)')).toEqual([expect.stringMatching(/unknown function EVAL\(\)/)]);
    expect(bad('(select 1)')).toEqual([expect.stringMatching(/cannot parse|unsupported expression/)]);
    expect(bad('budget::text')).toEqual([expect.stringMatching(/unsupported expression "cast"/)]);
    expect(bad('budget = null')).toEqual([expect.stringMatching(/compare with NULL using IS NULL/)]);
    expect(bad('null')).toEqual([expect.stringMatching(/the expression is always NULL/)]);
    expect(bad('budget * 2', ', returnType: text')).toEqual([expect.stringMatching(/returnType is text but the expression yields number/)]);
    expect(bad('round(budget, name)')).toEqual([expect.stringMatching(/ROUND\(x, digits\): digits is a whole number/)]);
    expect(bad('name'.repeat(600))).toEqual([expect.stringMatching(/longer than 2000 characters/)]);
  });

  it('refuses stored-only options, and computed fields where a stored one is needed', () => {
    expect(messages({ project: '  f: { type: formula, expression: "budget * 2", required: true, index: true }\n' })).toEqual([
      expect.stringMatching(/fields\.f\.required project\.f is a formula field, computed when read and never stored: it cannot be required/),
      expect.stringMatching(/fields\.f\.index .*it cannot be index/),
    ]);
    expect(messages({ project: '  f: { type: formula, expression: "budget * 2" }\nvalidations:\n  - { name: v, type: script, condition: "f > 10", message: Too big }\n' }))
      .toEqual([expect.stringMatching(/f is a formula field, computed when read: conditions name stored fields/)]);
    expect(messages({ project: '  f: { type: formula, expression: "name" }\ndisplayNameField: f\n' })).toEqual([expect.stringMatching(/displayNameField cannot be f, a computed field/)]);
    expect(messages({ project: '  f: { type: formula, expression: "name" }\nindexes:\n  - { name: by_f, fields: [f] }\n' }))
      .toEqual([expect.stringMatching(/index refers to f, a formula field: computed when read, it has no column to index/)]);
  });
});
