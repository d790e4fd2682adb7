import type { ExecutionResult } from 'graphql';

/** A result whose JSON text is already in hand: graphql-yoga writes it out as is (its `stringify` hook). */
export type RawResult = ExecutionResult & { stringify(result: ExecutionResult): string };

/**
 * Wraps `{"data":…}` text (no errors, no extensions) as an execution result without parsing it: the
 * response body is the text itself. `data` is parsed only if something reads it. A plugin that replaces
 * the result (adds errors or extensions) gets a plain object, which is serialized the usual way.
 */
export function rawResult(text: string): RawResult {
  let parsed: ExecutionResult | undefined;
  const result: RawResult = {
    get data() {
      return (parsed ??= JSON.parse(text) as ExecutionResult).data;
    },
    stringify: (r) => (r === result ? text : JSON.stringify(r)),
  };
  return result;
}

/** The text is one `data` member only: no `errors` or `extensions` key appears anywhere as a key. */
export const isDataOnly = (text: string): boolean =>
  text.startsWith('{"data":') && !text.includes('"errors":') && !text.includes('"extensions":');
