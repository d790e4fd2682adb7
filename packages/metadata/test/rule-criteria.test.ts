import { describe, expect, it } from 'vitest';
import {
  ConditionError, evaluateRuleCondition, parseRuleCriteria, parseSqlCondition, renderTemplate, ruleConditionFields, type FieldDefinition,
} from '../src/index.ts';
import { parse } from './rule-fixture.ts';

/** Rule criteria over the demo opportunity (stage select, amount currency, close_date date) and lead (tags multiselect). */
const model = parse({});
const fieldsOf = (object: string): ReadonlyMap<string, FieldDefinition> =>
  new Map(model.objects.find((o) => o.name === object)!.fields.map((f) => [f.name, f]));
const opportunity = fieldsOf('opportunity');

type Row = Record<string, unknown>;
const check = (criteria: string | Record<string, unknown>, record: Row | null, previous: Row | null, fields = opportunity): boolean =>
  evaluateRuleCondition(parseRuleCriteria(criteria, { fields }), { record, previous, fields });

describe('rule criteria', () => {
  it('ISCHANGED(stage) AND stage = closed_won holds only when stage changed to closed_won', () => {
    const won = "ISCHANGED(stage) AND stage = 'closed_won'";
    expect(check(won, { stage: 'closed_won' }, { stage: 'negotiation' })).toBe(true);
    expect(check(won, { stage: 'closed_won', amount: 5 }, { stage: 'closed_won', amount: 4 })).toBe(false);
    expect(check(won, { stage: 'closed_lost' }, { stage: 'negotiation' })).toBe(false);
    expect(check(won, { stage: 'closed_won' }, null)).toBe(false); // create: nothing changed
  });

  it('PRIORVALUE(field) is the value before the change, null on create', () => {
    const from = "PRIORVALUE(stage) = 'prospecting'";
    expect(check(from, { stage: 'qualification' }, { stage: 'prospecting' })).toBe(true);
    expect(check(from, { stage: 'prospecting' }, { stage: 'qualification' })).toBe(false);
    expect(check(from, { stage: 'prospecting' }, null)).toBe(false);
    expect(check('PRIORVALUE(amount) IS NULL', { amount: 1 }, null)).toBe(true);
    expect(check('amount > PRIORVALUE(amount)', { amount: '2000.00' }, { amount: 1500 })).toBe(true);
  });

  it('ISNEW() is true on create only', () => {
    expect(check('ISNEW()', { stage: 'prospecting' }, null)).toBe(true);
    expect(check('ISNEW()', { stage: 'prospecting' }, { stage: 'prospecting' })).toBe(false);
    expect(check('NOT ISNEW()', { stage: 'prospecting' }, { stage: 'prospecting' })).toBe(true);
  });

  it('compares numeric strings (PostgreSQL numeric) as numbers', () => {
    expect(check('amount > 1000', { amount: '1500.00' }, null)).toBe(true);
    expect(check('amount > 1000', { amount: '999.99' }, null)).toBe(false);
    expect(check('amount = 1500', { amount: '1500.00' }, null)).toBe(true);
    expect(check({ amount: { $gte: 1500 } }, { amount: '1500.0' }, null)).toBe(true);
    // ISCHANGED sees through representations: '1500.00' and 1500 are the same amount.
    expect(check('ISCHANGED(amount)', { amount: '1500.00' }, { amount: 1500 })).toBe(false);
  });

  it('follows SQL three-valued logic: null is unknown, and only true passes', () => {
    expect(check("stage = 'prospecting'", { stage: null }, null)).toBe(false);
    expect(check("NOT (stage = 'prospecting')", { stage: null }, null)).toBe(false);
    expect(check("NOT (stage = 'prospecting')", { stage: 'proposal' }, null)).toBe(true);
    expect(check("stage <> 'prospecting'", {}, null)).toBe(false);
    expect(check("stage = 'proposal' OR amount > 10", { stage: null, amount: 20 }, null)).toBe(true);
    expect(check("NOT (stage = 'proposal' AND amount > 10)", { stage: null, amount: 5 }, null)).toBe(true);
    expect(check("NOT (stage = 'proposal' AND amount > 10)", { stage: null, amount: 20 }, null)).toBe(false);
    expect(check("stage NOT IN ('proposal', 'negotiation')", { stage: null }, null)).toBe(false);
    expect(check("stage IN ('proposal', 'negotiation')", { stage: 'negotiation' }, null)).toBe(true);
    expect(check('stage IS NULL', { stage: null }, null)).toBe(true);
    expect(check('amount IS NOT NULL', {}, null)).toBe(false);
  });

  it('compares dates as dates and date-times as instants', () => {
    expect(check("close_date < '2026-07-01'", { close_date: '2026-06-30' }, null)).toBe(true);
    expect(check("close_date = '2026-06-30'", { close_date: new Date('2026-06-30T00:00:00Z') }, null)).toBe(true);
    expect(check("created_at > '2026-01-01T00:00:00Z'", { created_at: '2026-01-01T01:00:00+02:00' }, null)).toBe(false);
    expect(check("created_at > '2026-01-01T00:00:00Z'", { created_at: new Date('2026-01-02T00:00:00Z') }, null)).toBe(true);
  });

  it('reads the deleted record when there is no record after the change', () => {
    expect(check("stage = 'closed_lost'", null, { stage: 'closed_lost' })).toBe(true);
  });

  it('treats multiselect fields with IS NULL and ISCHANGED only', () => {
    const lead = fieldsOf('lead');
    expect(check('ISCHANGED(tags)', { tags: ['hot'] }, { tags: ['cold'] }, lead)).toBe(true);
    expect(check('ISCHANGED(tags)', { tags: ['hot'] }, { tags: ['hot'] }, lead)).toBe(false);
    expect(check('tags IS NULL', { tags: ['hot'] }, null, lead)).toBe(false);
    expect(() => parseRuleCriteria("tags IN ('hot', 'cold')", { fields: lead })).toThrow(/only test it with IS NULL or ISCHANGED/);
  });

  it('refuses what it cannot evaluate, and lists the fields it names', () => {
    const parseIt = (t: string) => () => parseRuleCriteria(t, { fields: opportunity });
    expect(parseIt("amount = '10'")).toThrow(/criteria type mismatch: a comparison compares a number with a string/);
    expect(parseIt("PRIORVALUE(amount) = 'x'")).toThrow(/criteria type mismatch/);
    expect(parseIt("close_date > 'soon'")).toThrow(/criteria type mismatch: "soon" is not a date/);
    expect(parseIt('owner_id = current_user.id')).toThrow(ConditionError);
    expect(parseIt('ISCHANGED(stag)')).toThrow(/unknown field "stag"/);
    expect(parseIt("ISCHANGED('stage')")).toThrow(/ISCHANGED takes one field name/);
    expect(parseIt('ISCHANGED(stage) = true')).toThrow(/ISCHANGED\(\) is a condition, not a value/);
    expect(parseIt('PRIORVALUE(stage)')).toThrow(/PRIORVALUE\(field\) is a value/);
    expect(parseIt('ISNEW(stage)')).toThrow(/ISNEW\(\) takes no arguments/);
    const c = parseRuleCriteria("ISCHANGED(stage) AND PRIORVALUE(amount) > 10 AND close_date IS NULL", { fields: opportunity });
    expect(ruleConditionFields(c).sort()).toEqual(['amount', 'close_date', 'stage']);
  });

  it('leaves the record condition language (sharing rules, RLS) as it was', () => {
    expect(() => parseSqlCondition('ISCHANGED(stage)', { fields: opportunity })).toThrow(/unsupported expression "call"/);
    expect(() => parseSqlCondition("amount = '10'", { fields: opportunity })).toThrow(/^a comparison compares a number with a string$/);
    expect(parseSqlCondition('owner_id = $user.id', { fields: opportunity })).toEqual({ op: 'eq', left: { kind: 'field', name: 'owner_id' }, right: { kind: 'var', name: 'id' } });
  });
});

describe('renderTemplate', () => {
  const scope = {
    record: { name: 'Acme & Co', amount: '1500.00', close_date: null, tags: ['a', 'b'], when: new Date('2026-01-02T03:04:05Z') },
    prior: null,
    rule: { name: 'opportunity_won' },
    event: { id: 'e1' },
  };

  it('replaces placeholders; missing and unknown values render empty', () => {
    expect(renderTemplate('{{record.name}} won {{ record.amount }} ({{rule.name}}, {{event.id}})', scope)).toBe('Acme & Co won 1500.00 (opportunity_won, e1)');
    expect(renderTemplate('[{{record.close_date}}|{{prior.name}}|{{record.nope}}|{{nope.x}}|{{record.constructor}}]', scope)).toBe('[||||]');
    expect(renderTemplate('{{record.tags}} at {{record.when}}', scope)).toBe('["a","b"] at 2026-01-02T03:04:05.000Z');
    expect(renderTemplate('no placeholders', scope)).toBe('no placeholders');
  });

  it('encodes each value when asked', () => {
    expect(renderTemplate('https://x.example.com/q?name={{record.name}}', scope, encodeURIComponent)).toBe('https://x.example.com/q?name=Acme%20%26%20Co');
    const json = renderTemplate('{"name": {{record.name}}, "was": {{prior.name}}}', { ...scope, record: { name: 'say "hi"' } }, (v) => JSON.stringify(v));
    expect(JSON.parse(json)).toEqual({ name: 'say "hi"', was: '' });
  });
});
