import { CompileError } from './compile-error.ts';

export interface SdlField {
  name: string;
  /** Everything after the name: `(args): Type @directives`. */
  signature: string;
  description?: string;
}

interface Definition {
  header: string;
  fields: SdlField[] | null;
  values?: string[];
  description?: string;
  owner: string;
}

/**
 * Collects SDL definitions and prints them sorted (definitions by name, fields by name), so the
 * generated file is stable and diffs only when the metadata changes. Name collisions are errors.
 */
export class SdlBuilder {
  private readonly defs = new Map<string, Definition>();

  constructor(private readonly preamble: string) {}

  /** `owner` says which metadata produced the definition, for collision messages. */
  add(name: string, header: string, fields: SdlField[] | null, owner: string, description?: string): void {
    const existing = this.defs.get(name);
    if (existing) throw new CompileError(`generated type name "${name}" from ${owner} collides with the one from ${existing.owner}`);
    this.defs.set(name, { header, fields, owner, ...(description ? { description } : {}) });
  }

  addEnum(name: string, values: string[], owner: string, description?: string): void {
    this.add(name, `enum ${name}`, null, owner, description);
    this.defs.get(name)!.values = values;
  }

  addFields(typeName: string, fields: SdlField[], owner: string): void {
    const def = this.defs.get(typeName);
    if (!def?.fields) throw new CompileError(`cannot add fields to unknown type "${typeName}"`);
    for (const f of fields) {
      const clash = def.fields.find((x) => x.name === f.name);
      if (clash) throw new CompileError(`field "${typeName}.${f.name}" from ${owner} collides with an existing field of the same name`);
      def.fields.push(f);
    }
  }

  has(name: string): boolean {
    return this.defs.has(name);
  }

  print(): string {
    const names = [...this.defs.keys()].sort();
    const blocks = names.map((name) => {
      const d = this.defs.get(name)!;
      const desc = d.description ? `${block(d.description, '')}\n` : '';
      if (d.values) return `${desc}${d.header} {\n${[...d.values].sort().map((v) => `  ${v}`).join('\n')}\n}`;
      if (!d.fields || d.fields.length === 0) return `${desc}${d.header}`;
      const fields = [...d.fields]
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((f) => `${f.description ? `${block(f.description, '  ')}\n` : ''}  ${f.name}${f.signature}`);
      return `${desc}${d.header} {\n${fields.join('\n')}\n}`;
    });
    return `${this.preamble}\n\n${blocks.join('\n\n')}\n`;
  }
}

function block(text: string, indent: string): string {
  const safe = text.replace(/"""/g, '\\"""');
  return `${indent}"""${safe}"""`;
}
