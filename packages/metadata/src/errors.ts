/** One problem in the metadata, located precisely enough to fix without searching. */
export interface MetadataIssue {
  /** File the problem is in, relative to the metadata root when known. */
  file: string;
  /** 1-based line and column of the offending node (0 when the file itself is the problem). */
  line: number;
  column: number;
  /** Dotted path inside the YAML document, e.g. `fields.amount.precision`. */
  path: string;
  message: string;
}

export function formatIssue(issue: MetadataIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  return `${where} ${issue.path || '(root)'}: ${issue.message}`;
}

/** Thrown when metadata is invalid; `issues` lists every problem found, not only the first. */
export class MetadataError extends Error {
  readonly code = 'METADATA_INVALID' as const;
  constructor(readonly issues: MetadataIssue[]) {
    super(`Invalid metadata (${issues.length} problem${issues.length === 1 ? '' : 's'}):\n${issues.map((i) => `  ${formatIssue(i)}`).join('\n')}`);
    this.name = 'MetadataError';
  }
}
