import type { CompilerPlugin } from '../build.ts';
import { FILTER_INPUTS, opArgType } from '../type-map.ts';

/** Scalars, PageInfo, sort direction and the shared scalar filter inputs. */
export const commonPlugin: CompilerPlugin = {
  name: 'common',
  build({ sdl, inflect }) {
    const own = 'the common plugin';
    sdl.add('DateTime', 'scalar DateTime', null, own, 'An ISO 8601 date-time with an offset, e.g. 2026-11-23T10:00:00.000Z.');
    sdl.add('Date', 'scalar Date', null, own, 'A calendar date, YYYY-MM-DD.');
    sdl.add('Time', 'scalar Time', null, own, 'A time of day, HH:MM or HH:MM:SS.');
    sdl.add('JSON', 'scalar JSON', null, own, 'Any JSON value.');
    sdl.addEnum(inflect.sharedType('SortDirection'), ['ASC', 'DESC'], own, 'ASC puts nulls last, DESC puts nulls first.');
    sdl.add(
      'PageInfo',
      'type PageInfo @shareable',
      [
        { name: 'hasNextPage', signature: ': Boolean!' },
        { name: 'hasPreviousPage', signature: ': Boolean!' },
        { name: 'startCursor', signature: ': String' },
        { name: 'endCursor', signature: ': String' },
      ],
      own,
    );
    for (const [filter, { scalar, ops }] of Object.entries(FILTER_INPUTS)) {
      const name = inflect.sharedType(filter);
      sdl.add(name, `input ${name}`, ops.map((op) => ({ name: op, signature: `: ${opArgType(op, scalar)}` })), own);
    }
  },
};
