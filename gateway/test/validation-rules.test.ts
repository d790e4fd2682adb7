import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { engines, gql, signedFetch, type GraphQLResult } from '@objectos/testkit';
import { startStack, type Stack } from './stack.ts';

// Spec validation rules (issue #19 point 8) through the gateway: script, cross_field, conditional and
// state_machine rules refuse a write with every failing rule named, and nothing is written; warnings
// never block; inactive rules are ignored; delete-event rules guard deletes.

const DEAL = `name: deal
fields:
  name: { type: text, required: true }
  stage:
    type: select
    defaultValue: open
    options:
      - { label: Open, value: open }
      - { label: Won, value: won }
      - { label: Lost, value: lost }
      - { label: Archived, value: archived }
  amount: { type: currency }
  discount: { type: currency }
  region:
    type: select
    options:
      - { label: EU, value: eu }
      - { label: US, value: us }
  vat_number: { type: text }
validations:
  - { name: amount_not_negative, type: script, condition: "amount < 0", message: Amount cannot be negative }
  - { name: discount_within_amount, type: cross_field, condition: "discount > amount", fields: [discount, amount], priority: 10, message: Discount cannot exceed the amount }
  - name: regional_vat
    type: conditional
    when: "region = 'eu'"
    message: VAT rules by region
    then: { name: eu_needs_vat, type: script, condition: "vat_number IS NULL", message: An EU deal needs a VAT number }
    otherwise: { name: vat_only_in_eu, type: script, condition: "vat_number IS NOT NULL", message: Only EU deals carry a VAT number }
  - name: stage_flow
    type: state_machine
    field: stage
    transitions: { open: [won, lost], lost: [open], won: [archived] }
    initialStates: [open]
    message: Not an allowed stage change
  - { name: won_amount_final, type: script, events: [update], condition: "PRIORVALUE(stage) = 'won' AND ISCHANGED(amount)", message: The amount of a won deal is final }
  - { name: big_discount, type: script, severity: warning, condition: "discount > 1000", message: Discounts above 1000 need a second look }
  # A conditional's severity caps its nested rule's: this one never blocks.
  - name: us_hints
    type: conditional
    severity: info
    when: "region = 'us'"
    message: Hints for US deals
    then: { name: us_amount_hint, type: script, condition: "amount IS NULL", message: US deals usually carry an amount }
  - { name: switched_off, type: script, active: false, condition: "amount > 0", message: This rule is off }
  - { name: keep_won, type: script, events: [delete], condition: "stage = 'won'", message: A won deal is kept }
`;

interface Deal { id: string; name: string; stage: string; amount: number | null; discount: number | null; region: string | null; vatNumber: string | null }
interface Issue { field: string; constraint: string; message: string }
const FIELDS = 'id name stage amount discount region vatNumber';

describe.each(engines())('validation rules through the gateway on $name', (engine) => {
  let s: Stack;
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'objectos-validation-'));
    await writeFile(join(dir, 'deal.object.yaml'), DEAL);
    s = await startStack(engine, { metadata: dir });
  });
  afterAll(async () => {
    await s?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const raw = <T>(query: string, variables: Record<string, unknown> = {}) => gql<T>(s.gateway.fetch, query, variables);
  const create = (input: Record<string, unknown>) => raw<{ createDeal: Deal | null }>(`mutation($i: DealCreateInput!) { createDeal(input: $i) { ${FIELDS} } }`, { i: input });
  const update = (id: string, input: Record<string, unknown>) => raw<{ updateDeal: Deal | null }>(`mutation($id: ID!, $i: DealUpdateInput!) { updateDeal(id: $id, input: $i) { ${FIELDS} } }`, { id, i: input });
  const made = async (input: Record<string, unknown>): Promise<Deal> => {
    const r = await create(input);
    expect(r.errors).toBeUndefined();
    return r.data!.createDeal!;
  };
  const read = async (id: string) => (await s.query<{ deal: Deal | null }>(`query($id: ID!) { deal(id: $id) { ${FIELDS} } }`, { id })).deal;
  const named = async (name: string) => (await s.query<{ deals: { nodes: Deal[] } }>('query($n: String!) { deals(where: { name: { eq: $n } }) { nodes { id } } }', { n: name })).deals.nodes;
  /** Straight to the data subgraph (signed as the gateway would): its answer as it is, extensions included. */
  const subgraph = async <T = Record<string, unknown>>(query: string, variables: Record<string, unknown> = {}) =>
    (await gql<T>(signedFetch(s.data.fetch), query, variables)) as GraphQLResult<T> & { extensions?: Record<string, unknown> };
  /** The one refusal: BAD_USER_INPUT, its issues, its message. */
  const refused = (r: GraphQLResult<unknown>): { message: string; issues: Issue[] } => {
    expect(r.errors).toHaveLength(1);
    const e = r.errors![0]!;
    expect(e.extensions?.['code']).toBe('BAD_USER_INPUT');
    return { message: e.message, issues: e.extensions?.['issues'] as Issue[] };
  };

  it('a script rule refuses a create, naming the rule and its message, and writes nothing', async () => {
    const r = refused(await create({ name: 'Negative', amount: -5 }));
    expect(r.message).toBe('Invalid Deal input: Amount cannot be negative (rule amount_not_negative)');
    expect(r.issues).toEqual([{ field: 'amount_not_negative', constraint: 'amount_not_negative', message: 'Amount cannot be negative (rule amount_not_negative)' }]);
    expect(await named('Negative')).toEqual([]);
  });

  it('a script rule refuses an update against the merged record, and the record is unchanged', async () => {
    const d = await made({ name: 'Positive', amount: 100 });
    const r = refused(await update(d.id, { amount: -1 }));
    expect(r.issues.map((i) => i.constraint)).toEqual(['amount_not_negative']);
    expect(await read(d.id)).toEqual(d);
    // The merged record: a discount above the stored amount fails though the amount is not in the input.
    expect(refused(await update(d.id, { discount: 150 })).issues.map((i) => i.constraint)).toEqual(['discount_within_amount']);
    expect((await read(d.id))!.discount).toBeNull();
  });

  it('a cross_field rule reports on its first field; every failing rule is reported at once, by priority', async () => {
    expect(refused(await create({ name: 'Generous', amount: 10, discount: 20 })).issues)
      .toEqual([{ field: 'discount', constraint: 'discount_within_amount', message: 'Discount cannot exceed the amount (rule discount_within_amount)' }]);
    const both = refused(await create({ name: 'Both wrong', amount: -5, discount: 1 }));
    // priority 10 before the default 100, whatever the declaration order.
    expect(both.issues.map((i) => i.constraint)).toEqual(['discount_within_amount', 'amount_not_negative']);
    expect(both.message).toContain('Discount cannot exceed the amount (rule discount_within_amount); Amount cannot be negative (rule amount_not_negative)');
    expect(await named('Generous')).toEqual([]);
    expect(await named('Both wrong')).toEqual([]);
    expect((await made({ name: 'Fair', amount: 10, discount: 10 })).discount).toBe(10);
  });

  it('a conditional rule applies then when its condition holds and otherwise when it does not', async () => {
    expect(refused(await create({ name: 'EU no VAT', region: 'eu' })).issues)
      .toEqual([{ field: 'eu_needs_vat', constraint: 'eu_needs_vat', message: 'An EU deal needs a VAT number (rule eu_needs_vat)' }]);
    expect(refused(await create({ name: 'US with VAT', region: 'us', vatNumber: 'DE123' })).issues.map((i) => i.constraint)).toEqual(['vat_only_in_eu']);
    const eu = await made({ name: 'EU with VAT', region: 'eu', vatNumber: 'FR456' });
    // Moving it out of the EU while it keeps its VAT number is refused (otherwise branch, merged record).
    expect(refused(await update(eu.id, { region: 'us' })).issues.map((i) => i.constraint)).toEqual(['vat_only_in_eu']);
    expect((await update(eu.id, { region: 'us', vatNumber: null })).data?.updateDeal).toMatchObject({ region: 'us', vatNumber: null });
    expect(await named('EU no VAT')).toEqual([]);
  });

  it('a state_machine rule allows listed transitions and refuses others, naming the transition', async () => {
    const born = refused(await create({ name: 'Born won', stage: 'won' }));
    expect(born.issues).toEqual([{ field: 'stage', constraint: 'stage_flow', message: 'Not an allowed stage change (rule stage_flow: stage cannot start as won; allowed: open)' }]);
    const d = await made({ name: 'Lifecycle' });
    expect(d.stage).toBe('open');
    const back = refused(await update(d.id, { stage: 'archived' }));
    expect(back.message).toBe('Invalid Deal input: Not an allowed stage change (rule stage_flow: stage cannot change from open to archived; allowed from open: won, lost)');
    expect((await update(d.id, { stage: 'won' })).data?.updateDeal?.stage).toBe('won');
    expect(refused(await update(d.id, { stage: 'open' })).issues.map((i) => i.constraint)).toEqual(['stage_flow']);
    // An update that leaves the field as it is is no transition.
    expect((await update(d.id, { stage: 'won', name: 'Lifecycle won' })).data?.updateDeal).toMatchObject({ stage: 'won', name: 'Lifecycle won' });
    expect((await update(d.id, { stage: 'archived' })).data?.updateDeal?.stage).toBe('archived');
    const a = await read(d.id);
    expect(a!.stage).toBe('archived');
    // archived has no entry: nothing leaves it.
    expect(refused(await update(d.id, { stage: 'won' })).message).toContain('allowed from archived: none');
  });

  it('ISCHANGED and PRIORVALUE in an update rule read the record before the write', async () => {
    const d = await made({ name: 'Closing', amount: 500 });
    expect((await update(d.id, { amount: 600 })).data?.updateDeal?.amount).toBe(600);
    expect((await update(d.id, { stage: 'won' })).errors).toBeUndefined();
    expect(refused(await update(d.id, { amount: 700 })).issues.map((i) => i.constraint)).toEqual(['won_amount_final']);
    // The same amount is no change; other fields stay editable.
    expect((await update(d.id, { amount: 600, name: 'Closed deal' })).data?.updateDeal).toMatchObject({ amount: 600, name: 'Closed deal' });
    expect((await read(d.id))!.amount).toBe(600);
  });

  it('a warning never blocks: the write happens and the data subgraph returns the warning beside it', async () => {
    const r = await create({ name: 'Big discount', amount: 5000, discount: 1500 });
    expect(r.errors).toBeUndefined();
    expect(r.data!.createDeal).toMatchObject({ name: 'Big discount', discount: 1500 });
    // The client is told, through the gateway, beside the data.
    expect(r.extensions?.['warnings']).toEqual([{ object: 'deal', rule: 'big_discount', message: 'Discounts above 1000 need a second look', severity: 'warning', event: 'insert', recordId: null }]);
    // And the subgraph's own answer carries it.
    const direct = await subgraph<{ createDeal: Deal }>('mutation($i: DealCreateInput!) { createDeal(input: $i) { id } }', { i: { name: 'Bigger discount', amount: 9000, discount: 2000 } });
    expect(direct.errors).toBeUndefined();
    expect(direct.extensions?.['warnings']).toEqual([{ object: 'deal', rule: 'big_discount', message: 'Discounts above 1000 need a second look', severity: 'warning', event: 'insert', recordId: null }]);
    const id = direct.data!.createDeal.id;
    const again = await subgraph('mutation($id: ID!) { updateDeal(id: $id, input: { name: "Still big" }) { id } }', { id });
    expect(again.extensions?.['warnings']).toEqual([expect.objectContaining({ rule: 'big_discount', event: 'update', recordId: id })]);
    // An error rule inside an info conditional reports as info.
    const hinted = await subgraph('mutation { createDeal(input: { name: "US deal", region: us }) { id } }');
    expect(hinted.errors).toBeUndefined();
    expect(hinted.extensions?.['warnings']).toEqual([expect.objectContaining({ rule: 'us_amount_hint', severity: 'info', message: 'US deals usually carry an amount' })]);
    // A write that meets every rule has no warnings at all.
    const clean = await subgraph('mutation { createDeal(input: { name: "Small discount", amount: 10, discount: 1 }) { id } }');
    expect(clean.errors).toBeUndefined();
    expect(clean.extensions).toBeUndefined();
  });

  it('an inactive rule is ignored', async () => {
    // switched_off would refuse every positive amount.
    expect((await made({ name: 'Switched off', amount: 42 })).amount).toBe(42);
  });

  it('a delete-event rule refuses deleting the records its condition matches, and the record stays', async () => {
    const won = await made({ name: 'Keep me' });
    expect((await update(won.id, { stage: 'won' })).errors).toBeUndefined();
    const r = refused(await raw('mutation($id: ID!) { deleteDeal(id: $id) { id } }', { id: won.id }));
    expect(r.issues).toEqual([{ field: 'keep_won', constraint: 'keep_won', message: 'A won deal is kept (rule keep_won)' }]);
    expect((await read(won.id))!.name).toBe('Keep me');
    const open = await made({ name: 'Delete me' });
    expect((await raw('mutation($id: ID!) { deleteDeal(id: $id) { id } }', { id: open.id })).errors).toBeUndefined();
    expect(await read(open.id)).toBeNull();
  });
});
