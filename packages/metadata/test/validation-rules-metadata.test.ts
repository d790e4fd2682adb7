import { describe, expect, it } from 'vitest';
import { MAX_CONDITIONAL_DEPTH, MetadataError, parseMetadata, type MetadataIssue, type ValidationModel } from '../src/index.ts';

/** Spec validation rules (script, cross_field, state_machine, conditional): each loads with its condition parsed; each mistake is located. */

const OBJECT = `name: deal
fields:
  name: { type: text, required: true }
  stage:
    type: select
    options:
      - { label: Open, value: open }
      - { label: Won, value: won }
      - { label: Lost, value: lost }
  amount: { type: currency }
  discount: { type: currency }
  close_date: { type: date }
  tags: { type: multiselect, options: [{ label: A, value: a }] }
validations:
`;
const FILE = 'objects/deal.object.yaml';
const load = (rules: string) => parseMetadata([{ file: FILE, text: OBJECT + rules }]);
const rulesOf = (rules: string): ValidationModel[] => load(rules).objects[0]!.validations;

function issuesOf(rules: string): MetadataIssue[] {
  try {
    load(rules);
  } catch (e) {
    expect(e).toBeInstanceOf(MetadataError);
    return (e as MetadataError).issues;
  }
  throw new Error('expected the metadata to be refused');
}

describe('validation rule metadata', () => {
  it('accepts each rule type with the spec defaults and parses its conditions once, at load', () => {
    const rules = rulesOf(`  - { name: no_negative, type: script, condition: "amount < 0", message: Amount cannot be negative }
  - { name: discount_limit, type: cross_field, condition: "discount > amount", fields: [discount, amount], message: Discount cannot exceed the amount, severity: warning, priority: 5 }
  - { name: stage_flow, type: state_machine, field: stage, transitions: { open: [won, lost], lost: [open] }, initialStates: [open], message: Not an allowed stage change }
  - name: won_needs_date
    type: conditional
    when: "stage = 'won'"
    message: Won deals
    events: [update]
    then: { name: date_set, type: script, condition: { close_date: null }, message: A won deal needs a close date }
    otherwise: { name: open_name, type: format, field: name, regex: "^[A-Z]", message: Starts with a capital, severity: info }
  - { name: no_delete_won, type: script, condition: "stage = 'won'", events: [delete], message: Won deals are kept }
  - { name: name_unique, type: unique, fields: [name], message: Name taken }
  - { name: stage_change, type: script, condition: "ISCHANGED(stage) AND PRIORVALUE(stage) = 'won'", message: A won deal stays won }
`);
    expect(rules.map((r) => [r.name, r.type, r.active, r.events, r.priority, r.severity])).toEqual([
      ['no_negative', 'script', true, ['insert', 'update'], 100, 'error'],
      ['discount_limit', 'cross_field', true, ['insert', 'update'], 5, 'warning'],
      ['stage_flow', 'state_machine', true, ['insert', 'update'], 100, 'error'],
      ['won_needs_date', 'conditional', true, ['update'], 100, 'error'],
      ['no_delete_won', 'script', true, ['delete'], 100, 'error'],
      ['name_unique', 'unique', true, ['insert', 'update'], 100, 'error'],
      ['stage_change', 'script', true, ['insert', 'update'], 100, 'error'],
    ]);
    const script = rules[0]!;
    expect(script.type === 'script' && script.compiled).toEqual({ op: 'lt', left: { kind: 'field', name: 'amount' }, right: { kind: 'value', value: 0 } });
    const conditional = rules[3]!;
    if (conditional.type !== 'conditional') throw new Error('expected a conditional');
    expect(conditional.compiled).toEqual({ op: 'eq', left: { kind: 'field', name: 'stage' }, right: { kind: 'value', value: 'won' } });
    expect(conditional.then).toMatchObject({ name: 'date_set', type: 'script', compiled: { op: 'isNull', arg: { kind: 'field', name: 'close_date' } } });
    expect(conditional.otherwise).toMatchObject({ name: 'open_name', type: 'format', severity: 'info' });
    const changed = rules[6]!;
    expect(changed.type === 'script' && changed.compiled.op).toBe('and');
  });

  it('keeps format and unique rules as they were', () => {
    const rules = rulesOf('  - { name: capital, type: format, field: name, regex: "^[A-Z]", message: Capital first }\n  - { name: one_name, type: unique, fields: [name], message: Taken }\n');
    expect(rules).toMatchObject([{ type: 'format', regex: '^[A-Z]' }, { type: 'unique', fields: ['name'] }]);
  });

  const deep = (levels: number): string => {
    let rule = '{ name: leaf, type: script, condition: "amount < 0", message: m }';
    for (let i = levels; i > 0; i--) rule = `{ name: c${i}, type: conditional, when: "amount > ${i}", message: m, then: ${rule} }`;
    return `  - ${rule}\n`;
  };

  it(`lets conditionals nest ${MAX_CONDITIONAL_DEPTH} deep`, () => {
    expect(rulesOf(deep(MAX_CONDITIONAL_DEPTH))).toHaveLength(1);
  });

  /** Each mistake: the rules block, then the issue's path and a fragment of its message (which names object and rule). */
  const MISTAKES: [string, string, { path: string; message: string }][] = [
    ['a script on an unknown field', '  - { name: r, type: script, condition: "amout < 0", message: m }\n',
      { path: 'validations.0.condition', message: 'deal validation "r": unknown field "amout"' }],
    ['a script that does not parse', '  - { name: r, type: script, condition: "amount <", message: m }\n',
      { path: 'validations.0.condition', message: 'deal validation "r": cannot parse "amount <"' }],
    ['a script comparing a number with text', "  - { name: r, type: script, condition: \"amount = 'big'\", message: m }\n",
      { path: 'validations.0.condition', message: 'compares a number with a string' }],
    ['a script naming an option that does not exist', "  - { name: r, type: script, condition: \"stage = 'closed'\", message: m }\n",
      { path: 'validations.0.condition', message: '"closed" is not an option of stage' }],
    ['an unknown function', '  - { name: r, type: script, condition: "ISBLANK(name)", message: m }\n',
      { path: 'validations.0.condition', message: 'unknown function ISBLANK()' }],
    ['ISCHANGED without update', '  - { name: r, type: script, condition: "ISCHANGED(stage)", events: [insert], message: m }\n',
      { path: 'validations.0.condition', message: 'ISCHANGED/PRIORVALUE need a prior record: add update to events' }],
    ['ISCHANGED on delete', '  - { name: r, type: script, condition: "ISCHANGED(stage)", events: [update, delete], message: m }\n',
      { path: 'validations.0.condition', message: 'a delete is judged on the record as it was' }],
    ['a cross_field naming an unknown field', '  - { name: r, type: cross_field, condition: "discount > amount", fields: [discount, price], message: m }\n',
      { path: 'validations.0.fields.1', message: 'deal validation "r": unknown field "price"' }],
    ['a state_machine on a text field', '  - { name: r, type: state_machine, field: name, transitions: { a: [b] }, message: m }\n',
      { path: 'validations.0.field', message: 'deal validation "r": name is a text field: a state_machine rule governs a select field' }],
    ['a state_machine on an unknown field', '  - { name: r, type: state_machine, field: phase, transitions: { open: [won] }, message: m }\n',
      { path: 'validations.0.field', message: 'unknown field "phase"' }],
    ['a state_machine from a state that is not an option', '  - { name: r, type: state_machine, field: stage, transitions: { pending: [won] }, message: m }\n',
      { path: 'validations.0.transitions.pending', message: 'deal validation "r": "pending" is not an option of stage (open, won, lost)' }],
    ['a state_machine to a state that is not an option', '  - { name: r, type: state_machine, field: stage, transitions: { open: [won, closed] }, message: m }\n',
      { path: 'validations.0.transitions.open.1', message: '"closed" is not an option of stage' }],
    ['an initial state that is not an option', '  - { name: r, type: state_machine, field: stage, transitions: { open: [won] }, initialStates: [draft], message: m }\n',
      { path: 'validations.0.initialStates.0', message: '"draft" is not an option of stage' }],
    ['a state_machine without update', '  - { name: r, type: state_machine, field: stage, transitions: { open: [won] }, events: [insert], message: m }\n',
      { path: 'validations.0.events', message: 'its events must include update' }],
    ['a state_machine on delete', '  - { name: r, type: state_machine, field: stage, transitions: { open: [won] }, events: [update, delete], message: m }\n',
      { path: 'validations.0.events', message: 'a state_machine rule judges written values: a delete writes none' }],
    ['duplicate names', '  - { name: r, type: script, condition: "amount < 0", message: m }\n  - { name: r, type: script, condition: "amount > 9", message: m }\n',
      { path: 'validations.1.name', message: 'duplicate validation name "r"' }],
    ['a nested rule named like another', '  - { name: r, type: script, condition: "amount < 0", message: m }\n  - { name: c, type: conditional, when: "amount > 0", message: m, then: { name: r, type: script, condition: "discount > 1", message: m } }\n',
      { path: 'validations.1.then.name', message: 'duplicate validation name "r"' }],
    ['conditionals nested too deep', deep(MAX_CONDITIONAL_DEPTH + 1),
      { path: 'validations.0.then.then.then', message: `deal validation "c4": conditional rules nest at most ${MAX_CONDITIONAL_DEPTH} deep` }],
    ['a bad when', '  - { name: c, type: conditional, when: "stage = 3", message: m, then: { name: t, type: script, condition: "amount < 0", message: m } }\n',
      { path: 'validations.0.when', message: 'deal validation "c"' }],
    ['a bad nested condition', '  - { name: c, type: conditional, when: "amount > 0", message: m, then: { name: t, type: script, condition: "nope > 1", message: m } }\n',
      { path: 'validations.0.then.condition', message: 'deal validation "t": unknown field "nope"' }],
    ['a nested unique rule', '  - { name: c, type: conditional, when: "amount > 0", message: m, then: { name: t, type: unique, fields: [name], message: m } }\n',
      { path: 'validations.0.then.type', message: 'unknown validation type "unique"' }],
    ['a nested rule that never runs', '  - { name: c, type: conditional, when: "amount > 0", events: [insert], message: m, then: { name: t, type: script, condition: "amount > 1", events: [update], message: m } }\n',
      { path: 'validations.0.then.events', message: 'nested rule "t" never runs' }],
    ['a unique rule as a warning', '  - { name: u, type: unique, fields: [name], severity: warning, message: m }\n',
      { path: 'validations.0.severity', message: 'a unique rule is a database index' }],
    ['an unknown severity', '  - { name: r, type: script, condition: "amount < 0", severity: fatal, message: m }\n',
      { path: 'validations.0.severity', message: 'Invalid option' }],
    ['an unknown event', '  - { name: r, type: script, condition: "amount < 0", events: [upsert], message: m }\n',
      { path: 'validations.0.events.0', message: 'Invalid option' }],
    ['a rule without a message', '  - { name: r, type: script, condition: "amount < 0" }\n',
      { path: 'validations.0.message', message: '' }],
    ['a current_user condition', '  - { name: r, type: script, condition: "name = current_user.id", message: m }\n',
      { path: 'validations.0.condition', message: 'current_user.id cannot be used' }],
    ['a multiselect compared as a scalar', "  - { name: r, type: script, condition: \"tags = 'a'\", message: m }\n",
      { path: 'validations.0.condition', message: 'tags is a multiselect field' }],
    ['a spec type this runtime does not enforce', '  - { name: r, type: json_schema, field: name, schema: {}, message: m }\n',
      { path: 'validations.0.type', message: 'unknown validation type "json_schema"' }],
  ];

  it.each(MISTAKES)('refuses %s, naming the object, the rule and the problem', (_name, rules, expected) => {
    const issues = issuesOf(rules);
    expect(issues).toEqual(expect.arrayContaining([expect.objectContaining({ file: FILE, path: expected.path, message: expect.stringContaining(expected.message) })]));
    // Located at the rule (line 15 is the first rule), not at the top of the file.
    expect(issues.every((i) => i.line >= 15)).toBe(true);
  });
});
