import { GraphQLError, type ASTNode, type GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { allow, deny, rule, shield } from 'graphql-shield';
import { isGuest } from '@objectos/schema';
import { subjectOf, type DecisionTable, type Subject } from './decisions.ts';

type ShieldOptions = NonNullable<Parameters<typeof shield>[1]>;
type ShieldRule = NonNullable<ShieldOptions['fallbackRule']>;

export const forbidden = (message: string, node?: ASTNode): GraphQLError =>
  new GraphQLError(message, { ...(node ? { nodes: [node] } : {}), extensions: { code: 'FORBIDDEN' } });

/**
 * A refused selection: FORBIDDEN for a signed-in principal; for a guest (anonymous, served in an organization) the answer is
 * 401 UNAUTHENTICATED, as every request without credentials gets: only what the guest profile grants is served.
 */
export function refusal(subject: Subject, message: string, node?: ASTNode): GraphQLError {
  if (!isGuest(subject.principal)) return forbidden(message, node);
  return new GraphQLError(`${message}: sign in first`, {
    ...(node ? { nodes: [node] } : {}),
    extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: { 'www-authenticate': 'Bearer realm="objectos"' } } },
  });
}

export interface ShieldSetup {
  /** An explicit rule for every field of every object type of the public schema. */
  ruleTree: Record<string, Record<string, ShieldRule>>;
  options: ShieldOptions & { fallbackRule: ShieldRule };
}

/** The graphql-shield rule tree, one rule per field, from the decision table. */
export function buildShield(table: DecisionTable): ShieldSetup {
  const ruleTree: ShieldSetup['ruleTree'] = {};
  for (const [type, fields] of table.fields) {
    const map: Record<string, ShieldRule> = {};
    for (const [field, d] of fields) {
      if (d.kind === 'allow') {
        map[field] = allow;
        continue;
      }
      // Decisions depend on the principal alone: evaluated once per request.
      map[field] = rule(`${type}.${field}`, { cache: 'contextual' })((_parent, _args, ctx) =>
        {
          const subject = subjectOf(ctx, table.sources);
          return d.allows(subject) ? true : refusal(subject, d.message);
        });
    }
    ruleTree[type] = map;
  }
  return {
    ruleTree,
    options: {
      fallbackRule: deny,
      allowExternalErrors: true,
      fallbackError: forbidden('Not allowed: this field has no access rule'),
    },
  };
}

/** Wraps every resolver of the (stitched) schema with its shield rule. */
export function applyShield(schema: GraphQLSchema, setup: ShieldSetup): GraphQLSchema {
  return applyMiddleware(schema, shield(setup.ruleTree, setup.options));
}
