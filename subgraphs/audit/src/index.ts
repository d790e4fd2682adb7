export { createAuditSubgraph, type AuditSubgraph, type AuditSubgraphOptions } from './create-audit-subgraph.ts';
export { purgeExpired, type PurgeResult } from './retention.ts';
