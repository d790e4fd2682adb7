export { loadMetadata } from './load-metadata.ts';
export { CONNECTOR_FILE, FLOW_FILE, METADATA_FILE, RULE_FILE, parseMetadata, stableStringify, type MetadataSource } from './parse-metadata.ts';
export { MetadataError, formatIssue, type MetadataIssue } from './errors.ts';
export { FIELD_TYPES, SNAKE_CASE, type FieldDefinition, type FieldType } from './field-schema.ts';
export {
  API_METHODS, SHARING_MODELS, VALIDATION_EVENTS, VALIDATION_SEVERITIES, type ApiMethod, type IndexDefinition, type NestedValidationDefinition,
  type ValidationDefinition, type ValidationEvent, type ValidationSeverity,
} from './object-schema.ts';
export {
  MAX_CONDITIONAL_DEPTH, type ConditionalRuleModel, type CrossFieldRuleModel, type FormatRuleModel, type NestedRuleModel, type ScriptRuleModel,
  type StateMachineRuleModel, type UniqueRuleModel, type ValidationModel,
} from './check-validations.ts';
export {
  RESERVED_FIELD_NAMES, RESERVED_OBJECT_NAMES, isRelation,
  type ConnectorModel, type FieldModel, type FlowModel, type JobModel, type MetadataModel, type ObjectModel, type RuleModel, type TemplateModel,
} from './model.ts';
export { humanize } from './humanize.ts';
export {
  AUDIT_EVENT_TYPES, AUDIT_SEVERITIES, AuditConfigSchema, DEFAULT_AUDIT_CONFIG, type AuditConfig, type AuditEventType, type AuditRetentionPolicy,
} from './audit-schema.ts';
export { DEFAULT_POLICY, PolicySchema, type PasswordPolicy, type PolicyDefinition, type SessionPolicy } from './policy-schema.ts';
export {
  ORGANIZATION_ROLES, SYSTEM_PERMISSIONS, type FieldPermission, type GroupDefinition, type ObjectPermission, type OrganizationRole, PROFILE_AUDIENCES, type ProfileAudience,
  type PermissionSetDefinition, type RoleDefinition, type ScimMappingDefinition, type SsoMappingDefinition, type SystemPermission,
} from './security-schema.ts';
export type { RlsPolicyModel, SecurityModel, SharingRuleModel } from './check-security.ts';
export {
  ConditionError, SYSTEM_CONDITION_FIELDS, USER_VARIABLES, normaliseVariables, parseFilterCondition, parseSqlCondition,
  type CompareOp, type Condition, type Operand, type UserVariable,
} from './condition.ts';
export { JobSchema, JobScheduleSchema, type JobDefinition, type JobSchedule } from './job-schema.ts';
export { TemplateLocaleSchema, TemplateSchema, type TemplateDefinition, type TemplateLocale } from './template-schema.ts';
export {
  ACTION_TYPES, ConnectorActionSchema, CustomScriptActionSchema, EmailAlertActionSchema, FieldUpdateActionSchema, HTTP_METHODS, HttpCallActionSchema,
  PushNotificationActionSchema, RECIPIENT, TRIGGER_TYPES, TaskCreationActionSchema, TimeTriggerSchema, WorkflowActionSchema, WorkflowRuleSchema,
  relativeOffsetMs, type ActionType, type TimeTriggerDefinition, type TriggerType, type WorkflowAction, type WorkflowRuleDefinition,
} from './rule-schema.ts';
export {
  ConnectorAuthSchema, ConnectorEndpointSchema, ConnectorSchema, type ConnectorAuth, type ConnectorDefinition, type ConnectorEndpoint,
} from './connector-schema.ts';
export {
  evaluateRuleCondition, parseRuleCriteria, ruleConditionFields, type RuleCondition, type RuleEvaluationInput, type RuleOperand,
} from './rule-criteria.ts';
export { actionTemplates, renderTemplate, templatePlaceholders, type TemplateScope } from './rule-template.ts';
export {
  ASSIGNMENT_OPERATORS, FLOW_EDGE_TYPES, FLOW_NODE_TYPES, FLOW_PLACEHOLDER, FLOW_STATUSES, FLOW_TRIGGER_VARIABLES, FLOW_TYPES, FLOW_VARIABLE_TYPES,
  FlowEdgeSchema, FlowNodeSchema, FlowSchema, FlowVariableSchema, flowDurationMs, flowValueProblem,
  type AssignmentOperator, type FlowAssignment, type FlowDefinition, type FlowEdge, type FlowEdgeType, type FlowErrorHandling, type FlowNode,
  type FlowNodeType, type FlowTrigger, type FlowType, type FlowVariable, type FlowVariableType,
} from './flows/flow-schema.ts';
export { checkFlows, type FlowCompiled, type FlowContext, type FlowEdgeModel, type FlowTriggerModel } from './flows/check-flows.ts';
export {
  FlowInputError, FlowValueError, applyAssignment, coerceFlowInputs, coerceFlowValue, evaluateFlowCondition, flowOutputs, parseFlowCondition,
  resolveFlowValue,
} from './flows/flow-values.ts';
export { StateMachineSchema, type StateAction, type StateMachineDefinition, type TransitionGuard } from './workflow/state-machine-schema.ts';
export type { GuardModel, StateMachineModel, StateModel, TransitionModel } from './workflow/check-state-machines.ts';
export {
  APPROVER_TYPES, ApprovalSchema, ESCALATION_ACTIONS, type ApprovalAction, type ApprovalDefinition, type ApprovalStepDefinition, type ApproverDefinition, type ApproverType,
} from './workflow/approval-schema.ts';
export type { ApprovalModel } from './workflow/check-approvals.ts';
export { FORMULA_RETURN_TYPES, type FormulaReturnType } from './field-schema.ts';
export { FORMULA_FUNCTIONS, FORMULA_LIMITS, FormulaError, formulaRefs, parseFormula, type FormulaFunction, type FormulaNode, type FormulaRef, type FormulaScope, type NodeType, type ValueType } from './formula.ts';
export { isComputed, type ComputedModel, type ComputedType, type FieldDep } from './check-computed.ts';
