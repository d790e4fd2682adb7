export { createDataSubgraph, type DataSubgraph, type DataSubgraphOptions } from './create-data-subgraph.ts';
export { connectDatabase, type Database, type DatabaseOptions } from '@objectos/db';
export { MigrationError, type MigrationResult } from './db/migrate.ts';
export { buildWhere, OPERATORS } from './sql/where.ts';
export { afterCondition, resolveOrder } from './sql/order.ts';
export { buildTable, buildTables } from './db/tables.ts';
export type { DataContext } from './resolvers.ts';
export type { SeedResult } from './seed.ts';
export { createRecordAccess, type ReadableIds } from './security/record-access.ts';
