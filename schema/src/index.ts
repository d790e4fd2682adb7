export { compile, defaultPreset, FEDERATION_LINK, type CompileOptions, type CompiledSchema } from './compile.ts';
export { defaultInflection, prefixedInflection, type Inflection } from './inflection.ts';
export { renameResolvers, renameSdl } from './rename.ts';
export { guardEntityTypes } from './entity-guard.ts';
export { CompileError } from './compile-error.ts';
export type { Build, CompilerPlugin } from './build.ts';
export type { ColumnPlan, DataPlan, ObjectPlan, RelationPlan, ReverseRelationPlan } from './plan.ts';
export { FILTER_INPUTS, GRAPHQL_TYPES, type FilterOp } from './type-map.ts';
export { SEARCH_COLUMN, SEARCH_CONFIG, searchColumns, searchVectorText, type SearchColumn } from './search-plan.ts';
export { upsertColumns } from './plugins/bulk-writes.ts';
export { aggregateRoles, DATE_TRUNCATIONS, type AggregateRoles, type DateTruncation } from './aggregate-roles.ts';
export { generatedFiles, GENERATED_DIR, hasWorkflow, workflowSdl } from './generated.ts';
export { IDENTITY_SDL } from './identity-sdl.ts';
export { DateScalar, DateTimeScalar, JSONScalar, TimeScalar, scalarResolvers } from './scalars.ts';
export { composeSupergraph, composePublicSdl, CompositionError, type SubgraphSdl } from './compose.ts';
export { compileSecurity, BUILTIN_PROFILES, type ObjectSecurity, type SecurityPlan } from './security/security-plan.ts';
export {
  accessFor, effectiveSets, isGuest, reaches, recordGrants, rlsFor,
  type Access, type AccessLevel, type FieldAccess, type Grant, type ObjectAccess, type RlsOperation,
} from './security/access.ts';
export {
  describeObject, describeObjects,
  type ChildRelationshipDescription, type FieldDescription, type ObjectDescription, type ObjectGraphQLNames, type SelectOptionDescription,
} from './describe.ts';
export { AUDIT_ACTOR_TYPES, compileAuditSdl, trackedColumns, trackedObjects } from './audit-sdl.ts';
export { AUTOMATION_SDL, automationEntitySdl, ruleObjects } from './automation-sdl.ts';
export { METRICS_SDL } from './metrics-sdl.ts';
export { WORKFLOW_SDL, governedObjects, workflowEntitySdl } from './workflow-sdl.ts';
export { changeFlows, flowFires, flowTriggerMatches, metadataRecord, ruleFires, ruleMatches, ruleWatcher, type RuleChange } from './rule-events.ts';
