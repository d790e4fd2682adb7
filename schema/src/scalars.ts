import { GraphQLError, GraphQLScalarType, Kind, valueFromASTUntyped, type ValueNode } from 'graphql';

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const TIME = /^([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(?:\.\d{1,6})?)?$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

function isCalendarDate(s: string): boolean {
  const m = DATE.exec(s);
  if (!m) return false;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const dt = new Date(Date.UTC(y, mo - 1, d));
  return dt.getUTCFullYear() === y && dt.getUTCMonth() === mo - 1 && dt.getUTCDate() === d;
}

function stringScalar(name: string, description: string, check: (s: string) => unknown, expected: string): GraphQLScalarType {
  const parse = (v: unknown): unknown => {
    if (typeof v !== 'string') throw new GraphQLError(`${name} must be a string (${expected}), got ${typeof v}`);
    const parsed = check(v);
    if (parsed === undefined) throw new GraphQLError(`"${v.slice(0, 64)}" is not a valid ${name} (${expected})`);
    return parsed;
  };
  return new GraphQLScalarType({
    name,
    description,
    serialize: (v) => (v instanceof Date ? v.toISOString() : String(v)),
    parseValue: parse,
    parseLiteral(ast) {
      if (ast.kind !== Kind.STRING) throw new GraphQLError(`${name} must be a string (${expected})`);
      return parse(ast.value);
    },
  });
}

export const DateTimeScalar = stringScalar(
  'DateTime', 'An ISO 8601 date-time with an offset.',
  (s) => {
    if (!DATE_TIME.test(s) || !isCalendarDate(s.slice(0, 10))) return undefined;
    const d = new Date(s);
    return Number.isNaN(d.getTime()) ? undefined : d;
  },
  'ISO 8601 with offset, e.g. 2026-11-23T10:00:00Z',
);
export const DateScalar = stringScalar('Date', 'A calendar date, YYYY-MM-DD.', (s) => (isCalendarDate(s) ? s : undefined), 'YYYY-MM-DD');
export const TimeScalar = stringScalar('Time', 'A time of day.', (s) => (TIME.test(s) ? s : undefined), 'HH:MM or HH:MM:SS');

export const JSONScalar = new GraphQLScalarType({
  name: 'JSON',
  description: 'Any JSON value.',
  serialize: (v) => v,
  parseValue: (v) => v,
  parseLiteral: (ast: ValueNode, variables) => valueFromASTUntyped(ast, variables),
});

export const scalarResolvers = { DateTime: DateTimeScalar, Date: DateScalar, Time: TimeScalar, JSON: JSONScalar };
