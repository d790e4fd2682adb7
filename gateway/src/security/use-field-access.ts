import {
  getNullableType, isEnumType, isInputObjectType, isListType, isObjectType, Kind,
  type ASTVisitor, type GraphQLInputType, type ValidationContext, type ValidationRule, type ValueNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { subjectOf, type DecisionTable, type Subject } from './decisions.ts';
import { refusal } from './shield.ts';

/**
 * A validation rule refusing every selection the subject may not make: fields (in fragments too), and
 * literal arguments naming an unreadable column (`where` fields through and/or/not, `orderBy` sort
 * values). Variables are not seen here: the data subgraph checks them. Decisions come from the same
 * table as the shield rules.
 */
export function fieldAccessRule(table: DecisionTable, subject: Subject): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    const seen = new Set<string>();
    const checkValue = (value: ValueNode, type: GraphQLInputType): void => {
      const t = getNullableType(type);
      if (isListType(t)) {
        if (value.kind === Kind.LIST) for (const v of value.values) checkValue(v, t.ofType);
        else checkValue(value, t.ofType);
      } else if (isInputObjectType(t) && value.kind === Kind.OBJECT) {
        const decisions = table.inputs.get(t.name);
        const fields = t.getFields();
        for (const f of value.fields) {
          const d = decisions?.get(f.name.value);
          if (d && !d.allows(subject)) context.reportError(refusal(subject, d.message, f));
          const field = fields[f.name.value];
          if (field) checkValue(f.value, field.type);
        }
      } else if (isEnumType(t) && value.kind === Kind.ENUM) {
        const d = table.enums.get(t.name)?.get(value.value);
        if (d && !d.allows(subject)) context.reportError(refusal(subject, d.message, value));
      }
    };
    return {
      Field(node) {
        const parent = context.getParentType();
        const name = node.name.value;
        // `__schema`/`__type`/`__typename` are governed by the protection options; abstract parents are
        // checked in their fragments; an unknown field is graphql-js's error alone (one error, not two).
        if (!parent || name.startsWith('__') || !isObjectType(parent) || !context.getFieldDef()) return undefined;
        const d = table.fields.get(parent.name)?.get(name);
        const message = !d ? `Not allowed: ${parent.name}.${name} has no access rule` : d.allows(subject) ? null : d.message;
        if (message === null) return undefined;
        // One error per Type.field, however often it is selected; what lies below it is not looked at.
        const key = `${parent.name}.${name}`;
        if (!seen.has(key)) {
          seen.add(key);
          context.reportError(refusal(subject, message, node));
        }
        return false;
      },
      Argument(node) {
        const arg = context.getArgument();
        if (arg) checkValue(node.value, arg.type);
      },
    };
  };
}

/**
 * Refuses, during validation (no resolver runs, no subgraph is called), what the principal may not
 * select. yoga caches validation results per document and per the *names* of the rules, so the rule
 * is named after the subject's access digest: principals with the same access share cached results,
 * others never get them.
 */
export function useFieldAccess(tableNow: () => DecisionTable): Plugin {
  // Rules per table (a recomposed supergraph brings a new one), then per access digest.
  const rulesBy = new WeakMap<DecisionTable, Map<string, ValidationRule>>();
  return {
    onValidate({ addValidationRule, context }) {
      const table = tableNow();
      let rules = rulesBy.get(table);
      if (!rules) rulesBy.set(table, (rules = new Map()));
      const subject = subjectOf(context, table.sources);
      const digest = subject.digest();
      let rule = rules.get(digest);
      if (!rule) {
        if (rules.size >= 10_000) rules.clear();
        rule = fieldAccessRule(table, subject);
        Object.defineProperty(rule, 'name', { value: `objectosFieldAccess_${digest}` });
        rules.set(digest, rule);
      }
      addValidationRule(rule);
    },
  };
}
