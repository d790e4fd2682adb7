import type { Build, CompilerPlugin } from '../build.ts';
import { aggregateRoles, DATE_TRUNCATIONS } from '../aggregate-roles.ts';
import type { ObjectPlan } from '../plan.ts';
import type { SdlField } from '../sdl-builder.ts';
import { columnType } from './objects.ts';

/** The aggregate result fields an object's records offer (on `aggregates`, on each group and on children). */
function aggregateFields(b: Build, p: ObjectPlan): SdlField[] {
  const { inflect, sdl } = b;
  const own = `object "${p.object.name}"`;
  const fields: SdlField[] = [{ name: 'count', signature: ': Int!', description: 'Records counted (only those you can read).' }];
  const kinds = [
    { kind: 'DistinctCounts' as const, pick: (c: ObjectPlan['columns'][number]) => aggregateRoles(c).distinct, type: () => 'Int', fns: [['countDistinct', 'Distinct non-null values per field.']] },
    { kind: 'Numbers' as const, pick: (c: ObjectPlan['columns'][number]) => aggregateRoles(c).numeric, type: () => 'Float', fns: [['sum', 'Sum per numeric field (null without values).'], ['avg', 'Average per numeric field (null without values).']] },
    { kind: 'Extremes' as const, pick: (c: ObjectPlan['columns'][number]) => aggregateRoles(c).ordered, type: (c: ObjectPlan['columns'][number]) => columnType(b, p, c), fns: [['min', 'Smallest value per field.'], ['max', 'Largest value per field.']] },
  ];
  for (const k of kinds) {
    const columns = p.columns.filter(k.pick);
    if (columns.length === 0) continue;
    const name = inflect.aggregateFieldsType(p.object, k.kind);
    if (!sdl.has(name)) sdl.add(name, `type ${name}`, columns.map((c) => ({ name: c.graphqlName, signature: `: ${k.type(c)}` })), own);
    for (const [fn, description] of k.fns) fields.push({ name: fn!, signature: `: ${name}!`, description: description! });
  }
  return fields;
}

/**
 * Aggregates (count, countDistinct, sum, avg, min, max) on every connection (`accounts(where) {
 * aggregates { … } groupedAggregates(groupBy, having) { key { … } … } }`) and on children
 * (`account { opportunitiesAggregate(where) { sum { amount } } }`). Hidden rows never count; hidden
 * fields cannot be aggregated, grouped or used in `having` (the gateway and the data subgraph refuse them).
 */
export const aggregatesPlugin: CompilerPlugin = {
  name: 'aggregates',
  build(b) {
    const { sdl, inflect } = b;
    const listed = b.exposed.filter((p) => p.methods.includes('list'));
    if (listed.length === 0) return;
    const trunc = inflect.sharedType('DateTruncation');
    sdl.addEnum(trunc, [...DATE_TRUNCATIONS], 'the aggregates plugin', 'Groups dates by the period they fall in: weeks start on Monday (ISO 8601), date-times are cut in UTC.');
    const filter = inflect.sharedType('FloatFilter');
    for (const p of listed) {
      const own = `object "${p.object.name}"`;
      const aggregates = inflect.aggregatesType(p.object);
      const fields = aggregateFields(b, p);
      sdl.add(aggregates, `type ${aggregates}`, fields, own, `Aggregates over ${p.object.pluralLabel} you can read.`);

      const groupable = p.columns.filter((c) => aggregateRoles(c).groupable);
      const key = inflect.groupKeyType(p.object);
      sdl.add(key, `type ${key}`, [
        ...groupable.map((c) => ({ name: c.graphqlName, signature: `: ${columnType(b, p, c)}` })),
        ...p.relations.filter((r) => b.isExposed(r.target)).map((r) => ({
          name: r.graphqlName, signature: `: ${b.plan.objects[r.target]!.typeName}`, description: `The ${r.field.label} of the group, when grouped by it (null if you cannot read it).`,
        })),
      ], own, 'The values a group shares: the fields it is grouped by (truncated dates as the first day of their period); others are null.');
      const group = inflect.groupType(p.object);
      sdl.add(group, `type ${group}`, [{ name: 'key', signature: `: ${key}!` }, ...fields], own);
      const fieldEnum = inflect.groupFieldEnum(p.object);
      sdl.addEnum(fieldEnum, groupable.map((c) => c.sortValue ?? inflect.sortFieldValue(c.name)), own);
      const groupBy = inflect.groupByInput(p.object);
      sdl.add(groupBy, `input ${groupBy}`, [
        { name: 'field', signature: `: ${fieldEnum}!` },
        { name: 'truncate', signature: `: ${trunc}`, description: 'For a date or date-time field: group by day, week, month or year.' },
      ], own);

      const having = inflect.havingInput(p.object);
      const havingFields: SdlField[] = [{ name: 'count', signature: `: ${filter}` }];
      for (const [kind, pick, fns] of [['Numbers', (c: ObjectPlan['columns'][number]) => aggregateRoles(c).numeric, ['sum', 'avg']], ['Extremes', (c: ObjectPlan['columns'][number]) => aggregateRoles(c).ordered, ['min', 'max']]] as const) {
        const columns = p.columns.filter(pick);
        if (columns.length === 0) continue;
        const name = inflect.havingFieldsInput(p.object, kind);
        sdl.add(name, `input ${name}`, columns.map((c) => ({ name: c.graphqlName, signature: `: ${c.filterInput}` })), own);
        for (const fn of fns) havingFields.push({ name: fn, signature: `: ${name}` });
      }
      sdl.add(having, `input ${having}`, [
        { name: 'and', signature: `: [${having}!]` },
        { name: 'or', signature: `: [${having}!]` },
        { name: 'not', signature: `: ${having}` },
        ...havingFields,
      ], own, 'Conditions on each group\'s aggregates.');

      sdl.addFields(inflect.connectionType(p.object), [
        { name: 'aggregates', signature: `: ${aggregates}!`, description: 'Aggregates over every record matching `where` (pagination ignored).' },
        {
          name: 'groupedAggregates',
          signature: `(groupBy: [${groupBy}!]!, having: ${having}, limit: Int): [${group}!]!`,
          description: 'Aggregates per group of records matching `where`, ordered by their keys (nulls last); at most `limit` groups.',
        },
      ], own);
    }
    for (const parent of b.exposed) {
      const fields = parent.reverse.filter((r) => listed.some((p) => p.object.name === r.child)).map((r) => {
        const child = b.plan.objects[r.child]!;
        return {
          name: inflect.childAggregateField(r.graphqlName),
          signature: `(where: ${inflect.whereInput(child.object)}): ${inflect.aggregatesType(child.object)}!`,
          description: `Aggregates over this ${parent.object.label}'s ${child.object.pluralLabel} you can read.`,
        };
      });
      if (fields.length > 0) sdl.addFields(parent.typeName, fields, `the child aggregates of "${parent.object.name}"`);
    }
  },
};
