import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import type { DataSource } from './data-source.ts';
import { takeValidationWarnings } from './validation-rules.ts';

/**
 * Puts the validation warnings (severity warning or info) the operation's writes raised into the
 * response, as `extensions.warnings: [{ object, rule, message, severity, event, recordId }]`. They
 * never block a write. The gateway answers clients with data and errors only: these are seen by
 * callers of this subgraph (the runtime's own workers, tests), not through the gateway.
 */
export function useValidationWarnings(): Plugin {
  return {
    onExecute({ args }) {
      const ds = (args.contextValue as { ds?: DataSource }).ds;
      if (!ds) return;
      return {
        onExecuteDone({ result, setResult }) {
          if (isAsyncIterable(result)) return;
          const warnings = takeValidationWarnings(ds);
          if (warnings.length > 0) setResult({ ...result, extensions: { ...result.extensions, warnings } });
        },
      };
    },
  };
}
