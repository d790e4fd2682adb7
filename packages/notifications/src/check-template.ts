import Handlebars from 'handlebars';

/** One language version of a template: Handlebars sources. */
export interface TemplateLocaleSource {
  subject: string;
  text: string;
  html?: string | undefined;
}

/**
 * A parsed `*.template.yaml` — the output of `TemplateSchema` in `@objectos/metadata`, declared
 * here by shape so this package needs only the data.
 */
export interface TemplateDefinition {
  name: string;
  description?: string | undefined;
  topic: string;
  security: boolean;
  variables: readonly string[];
  locales: Readonly<Record<string, TemplateLocaleSource>>;
  defaultLocale: string;
}

/** The helpers templates may use; anything else is refused at load (and `knownHelpersOnly` at compile). */
export const TEMPLATE_HELPERS = ['if', 'unless', 'each', 'with', 'lookup', 'log'] as const;
const HELPERS: ReadonlySet<string> = new Set(TEMPLATE_HELPERS);
/** Helpers whose block body runs with another context (`each` item, `with` object). */
const CONTEXT_CHANGING = new Set(['each', 'with']);

type Node = hbs.AST.Node;

interface Scope {
  /** How many context-changing blocks enclose this point (0: the variables object). */
  depth: number;
  /** Block params in scope (`{{#each items as |item|}}`). */
  params: ReadonlySet<string>;
}

/** Root variable names a Handlebars source reads (walks the AST), plus problems such as unknown helpers or partials. */
export function templateReferences(source: string): { variables: Set<string>; problems: string[] } {
  const variables = new Set<string>();
  const problems: string[] = [];

  const path = (p: hbs.AST.PathExpression, scope: Scope): void => {
    if (p.data) {
      // `@root.x` reads the variables; `@index`, `@key`, `@first` are loop data.
      if (p.parts[0] === 'root' && p.parts[1] !== undefined) variables.add(p.parts[1]);
      return;
    }
    const head = p.parts[0];
    if (head === undefined || scope.params.has(head)) return; // `this` / `.` or a block param
    if (scope.depth - p.depth <= 0) variables.add(head);
    // Inside `each`/`with` a plain path reads the item, whose shape is not declared.
  };

  const expr = (e: Node, scope: Scope): void => {
    if (e.type === 'PathExpression') path(e as hbs.AST.PathExpression, scope);
    else if (e.type === 'SubExpression') call(e as hbs.AST.SubExpression, scope);
  };

  /** A mustache, block or sub-expression: with arguments its path names a helper, without it is a value. */
  const call = (node: { path: Node; params: Node[]; hash: hbs.AST.Hash }, scope: Scope): string | undefined => {
    const pairs = node.hash?.pairs ?? [];
    if (node.path.type !== 'PathExpression') return undefined;
    const p = node.path as hbs.AST.PathExpression;
    if (node.params.length > 0 || pairs.length > 0) {
      if (!HELPERS.has(p.original)) problems.push(`unknown helper "${p.original}" (templates may use ${TEMPLATE_HELPERS.join(', ')})`);
      for (const a of node.params) expr(a, scope);
      for (const pair of pairs) expr(pair.value, scope);
      return p.original;
    }
    path(p, scope);
    return undefined;
  };

  const program = (prog: hbs.AST.Program | undefined, scope: Scope): void => {
    if (!prog) return;
    const params = prog.blockParams?.length ? new Set([...scope.params, ...prog.blockParams]) : scope.params;
    for (const s of prog.body) statement(s, { depth: scope.depth, params });
  };

  const statement = (s: Node, scope: Scope): void => {
    switch (s.type) {
      case 'MustacheStatement':
        call(s as hbs.AST.MustacheStatement, scope);
        return;
      case 'BlockStatement': {
        const b = s as hbs.AST.BlockStatement;
        const helper = call(b, scope);
        // A section without a helper (`{{#items}}`) iterates or enters its value, like each/with.
        const enters = helper === undefined || CONTEXT_CHANGING.has(helper);
        program(b.program, enters ? { ...scope, depth: scope.depth + 1 } : scope);
        program(b.inverse, scope);
        return;
      }
      case 'PartialStatement':
      case 'PartialBlockStatement':
        problems.push('partials ({{> name}}) are not supported in notification templates');
        return;
      case 'DecoratorBlock':
      case 'Decorator':
        problems.push('decorators are not supported in notification templates');
        return;
      default:
        return; // content and comments
    }
  };

  program(Handlebars.parse(source), { depth: 0, params: new Set() });
  return { variables, problems };
}

/**
 * What is wrong with a template beyond its structure: each locale's subject, text and html must
 * parse, use only the allowed helpers and read only declared variables. Each problem starts with
 * its path (`locales.de.subject: …`); an empty list means the template is usable.
 */
export function checkTemplate(def: TemplateDefinition): string[] {
  const problems: string[] = [];
  const declared = new Set(def.variables);
  for (const [locale, parts] of Object.entries(def.locales))
    for (const part of ['subject', 'text', 'html'] as const) {
      const source = parts[part];
      if (source === undefined) continue;
      const where = `locales.${locale}.${part}`;
      let refs: ReturnType<typeof templateReferences>;
      try {
        refs = templateReferences(source);
      } catch (e) {
        problems.push(`${where}: does not compile: ${(e as Error).message.split('\n')[0]}`);
        continue;
      }
      for (const p of refs.problems) problems.push(`${where}: ${p}`);
      for (const v of refs.variables)
        if (!declared.has(v))
          problems.push(`${where}: uses variable "${v}", which is not declared (declared: ${def.variables.length ? def.variables.join(', ') : 'none'})`);
    }
  return problems;
}
