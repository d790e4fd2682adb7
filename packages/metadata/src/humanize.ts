/** `annual_revenue` → `Annual Revenue`: the default label when metadata gives none. */
export function humanize(name: string): string {
  return name
    .split('_')
    .map((w) => (w ? w[0]!.toUpperCase() + w.slice(1) : w))
    .join(' ');
}
