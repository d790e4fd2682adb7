import { describe, expect, it } from 'vitest';
import {
  FlowInputError, FlowValueError, applyAssignment, coerceFlowInputs, evaluateFlowCondition, flowDurationMs, flowOutputs, resolveFlowValue,
  type FlowAssignment, type RuleCondition,
} from '../src/index.ts';
import { parse } from './flow-fixture.ts';

/** The pure helpers a flow executor runs with: conditions over variables, placeholders, assignments, inputs and outputs. */

const CONDITIONS: Record<string, string> = {
  c1: 'days > 3',
  c2: "request.status = 'approved'",
  c3: 'NOT (days > 3)',
  c4: '{ request.days: { $gte: 2 }, ok: true }',
  c5: 'items IS NULL',
  c6: "from_date < '2024-02-01'",
  c7: "who IN ('a', 'b')",
  c8: "due > '2024-01-01T00:00:00Z'",
  c9: "request.name = 'x.y' OR request.start_date IS NULL",
};

const TEXT = `name: f
type: autolaunched
variables:
  - { name: days, type: number, isInput: true }
  - { name: who, type: text, isInput: true, default: anon }
  - { name: ok, type: boolean, isOutput: true }
  - { name: from_date, type: date }
  - { name: due, type: datetime }
  - { name: request, type: record, object: leave_request, isInput: true }
  - { name: items, type: list, default: [], isOutput: true }
  - { name: payload, type: json }
nodes:
  - { id: start, type: start }
  - { id: d, type: decision }
  - { id: done, type: end }
edges:
  - { id: e0, source: start, target: d }
  - { id: e1, source: d, target: done, type: default }
${Object.entries(CONDITIONS).map(([id, c]) => `  - id: ${id}\n    source: d\n    target: done\n    condition: ${c.startsWith('{') ? c : JSON.stringify(c)}\n`).join('')}`;

const flow = parse({ 'f.flow.yaml': TEXT }).flows[0]!;
const condition = (id: string): RuleCondition => flow.edges.find((e) => e.id === id)!.condition!;
const holds = (id: string, variables: Record<string, unknown>) => evaluateFlowCondition(condition(id), variables, flow);

describe('evaluateFlowCondition', () => {
  it('compares variables, coercing numeric strings', () => {
    expect(holds('c1', { days: 5 })).toBe(true);
    expect(holds('c1', { days: '5' })).toBe(true);
    expect(holds('c1', { days: 2 })).toBe(false);
  });

  it('has SQL null semantics: a comparison with null is unknown, and so is its negation', () => {
    expect(holds('c1', { days: null })).toBe(false);
    expect(holds('c3', { days: null })).toBe(false);
    expect(holds('c3', {})).toBe(false);
    expect(holds('c3', { days: 1 })).toBe(true);
    expect(holds('c5', { items: null })).toBe(true);
    expect(holds('c5', { items: [] })).toBe(false);
  });

  it("reads a record variable's fields, in text and in the filter object form", () => {
    expect(holds('c2', { request: { status: 'approved' } })).toBe(true);
    expect(holds('c2', { request: { status: 'open' } })).toBe(false);
    expect(holds('c2', { request: null })).toBe(false);
    expect(holds('c4', { request: { days: 2 }, ok: true })).toBe(true);
    expect(holds('c4', { request: { days: 2 }, ok: false })).toBe(false);
    expect(holds('c9', { request: { name: 'x.y', start_date: '2024-01-01' } })).toBe(true);
    expect(holds('c9', { request: { name: 'z', start_date: null } })).toBe(true);
    expect(holds('c9', { request: { name: 'z', start_date: '2024-01-01' } })).toBe(false);
  });

  it('compares dates, date-times and lists of values', () => {
    expect(holds('c6', { from_date: '2024-01-31' })).toBe(true);
    expect(holds('c6', { from_date: new Date('2024-03-01T10:00:00Z') })).toBe(false);
    expect(holds('c8', { due: '2024-01-01T00:00:01Z' })).toBe(true);
    expect(holds('c7', { who: 'b' })).toBe(true);
    expect(holds('c7', { who: 'c' })).toBe(false);
  });
});

describe('resolveFlowValue', () => {
  const variables = { days: 5, who: 'Ann', request: { days: 2, name: 'Trip' }, items: ['a'], nothing: null };

  it('yields the raw value of a string that is exactly one placeholder', () => {
    expect(resolveFlowValue('{!days}', variables)).toBe(5);
    expect(resolveFlowValue('{! request.days }', variables)).toBe(2);
    expect(resolveFlowValue('{!request}', variables)).toEqual({ days: 2, name: 'Trip' });
    expect(resolveFlowValue('{!items}', variables)).toEqual(['a']);
    expect(resolveFlowValue('{!missing}', variables)).toBeNull();
    expect(resolveFlowValue('{!request.constructor}', variables)).toBeNull();
  });

  it('interpolates placeholders inside text', () => {
    expect(resolveFlowValue('Follow up {!request.name} ({!days} days, {!nothing}{!missing})', variables)).toBe('Follow up Trip (5 days, )');
    expect(resolveFlowValue('ids: {!items}', variables)).toBe('ids: ["a"]');
  });

  it('resolves mappings and lists item by item and leaves other values as they are', () => {
    expect(resolveFlowValue({ a: '{!days}', b: ['{!who}', 'x{!who}'], c: 3, d: true, e: null }, variables)).toEqual({ a: 5, b: ['Ann', 'xAnn'], c: 3, d: true, e: null });
    expect(resolveFlowValue(7, variables)).toBe(7);
  });
});

describe('applyAssignment', () => {
  const run = (variables: Record<string, unknown>, a: Partial<FlowAssignment> & { variable: string; value: unknown }) =>
    applyAssignment(variables, { operator: 'set', ...a }, flow);

  it('sets a value, coerced to the variable type, and returns new variables', () => {
    const before = { days: 1, request: { days: '7' } };
    const after = run(before, { variable: 'days', value: '{!request.days}' });
    expect(after).toEqual({ days: 7, request: { days: '7' } });
    expect(before.days).toBe(1);
    expect(run({}, { variable: 'ok', value: 'true' })).toEqual({ ok: true });
    expect(run({ days: 2 }, { variable: 'who', value: 'n={!days}' })).toEqual({ days: 2, who: 'n=2' });
    expect(run({ who: 'x' }, { variable: 'who', value: null })).toEqual({ who: null });
  });

  it('refuses a value that does not fit the variable', () => {
    expect(() => run({}, { variable: 'days', value: 'abc' })).toThrow(new FlowValueError('days is a number variable: value must be a number, got "abc"'));
    expect(() => run({}, { variable: 'request', value: 'x' })).toThrow(FlowValueError);
    expect(() => run({}, { variable: 'nope', value: 1 })).toThrow('unknown variable "nope"');
  });

  it('adds and subtracts numbers (null counting as 0) and days', () => {
    expect(run({}, { variable: 'days', operator: 'add', value: 2 })).toEqual({ days: 2 });
    expect(run({ days: 2, n: 0.5 }, { variable: 'days', operator: 'subtract', value: '{!n}' })).toMatchObject({ days: 1.5 });
    expect(run({ from_date: '2024-02-28' }, { variable: 'from_date', operator: 'add', value: 2 })).toEqual({ from_date: '2024-03-01' });
    expect(run({ due: '2024-03-01T12:00:00Z' }, { variable: 'due', operator: 'subtract', value: 1 })).toEqual({ due: '2024-02-29T12:00:00.000Z' });
    expect(run({ from_date: null }, { variable: 'from_date', operator: 'add', value: 1 })).toEqual({ from_date: null });
    expect(() => run({}, { variable: 'from_date', operator: 'add', value: 0.5 })).toThrow('whole days');
    expect(() => run({}, { variable: 'days', operator: 'add', value: 'x' })).toThrow('add on days needs a number, got "x"');
    expect(() => run({}, { variable: 'who', operator: 'add', value: 1 })).toThrow(FlowValueError);
  });

  it('appends one item to a list without touching the old one', () => {
    const before = { items: ['a'], who: 'b' };
    expect(run(before, { variable: 'items', operator: 'append', value: '{!who}' })).toEqual({ items: ['a', 'b'], who: 'b' });
    expect(before.items).toEqual(['a']);
    expect(run({ items: null }, { variable: 'items', operator: 'append', value: ['x'] })).toEqual({ items: [['x']] });
    expect(() => run({}, { variable: 'who', operator: 'append', value: 1 })).toThrow('append adds an item to a list: who is a text variable');
  });
});

describe('coerceFlowInputs and flowOutputs', () => {
  it('checks inputs, coerces them and fills every other variable with its default or null', () => {
    const variables = coerceFlowInputs(flow, { days: '3', request: { name: 'Trip' } });
    expect(variables).toEqual({ days: 3, who: 'anon', ok: null, from_date: null, due: null, request: { name: 'Trip' }, items: [], payload: null });
    (variables['items'] as unknown[]).push('x');
    expect(coerceFlowInputs(flow, {})['items']).toEqual([]);
  });

  it('names the input it refuses', () => {
    const refused = (inputs: Record<string, unknown>): FlowInputError => {
      try {
        coerceFlowInputs(flow, inputs);
      } catch (e) {
        expect(e).toBeInstanceOf(FlowInputError);
        return e as FlowInputError;
      }
      throw new Error('expected the inputs to be refused');
    };
    expect(refused({ nope: 1 })).toMatchObject({ input: 'nope', message: 'unknown input "nope" of flow f (inputs: days, request, who)' });
    expect(refused({ ok: true })).toMatchObject({ input: 'ok', message: 'ok is not an input of flow f (inputs: days, request, who)' });
    expect(refused({ days: 'many' })).toMatchObject({ input: 'days', message: 'input days is a number variable: value must be a number, got "many"' });
    expect(refused({ request: [1] })).toMatchObject({ input: 'request' });
  });

  it('returns the output variables, null when never assigned', () => {
    expect(flowOutputs(flow, { ok: true, days: 3 })).toEqual({ ok: true, items: null });
  });
});

describe('flowDurationMs', () => {
  it('reads relative offsets and ISO-8601 durations without years or months', () => {
    expect(['+30s', '+30m', '+2h', '+3d', '+1w', 'PT1H30M', 'P1DT12H', 'P1W', 'PT0.5S'].map(flowDurationMs)).toEqual(
      [30_000, 1_800_000, 7_200_000, 259_200_000, 604_800_000, 5_400_000, 129_600_000, 604_800_000, 500]);
    expect(['P1M', 'P1Y', 'P', 'PT', '2h', '+2x', ''].map(flowDurationMs)).toEqual([null, null, null, null, null, null, null]);
  });
});
