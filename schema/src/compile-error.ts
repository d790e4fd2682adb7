/** The metadata is valid on its own but cannot be compiled (for example, two objects generate the same name). */
export class CompileError extends Error {
  readonly code = 'SCHEMA_COMPILE' as const;
  constructor(message: string) {
    super(message);
    this.name = 'CompileError';
  }
}
