import type { FieldDefinition } from './field-schema.ts';
import type { PolicyDefinition } from './policy-schema.ts';
import type { AuditConfig } from './audit-schema.ts';
import type { JobDefinition } from './job-schema.ts';
import type { TemplateDefinition } from './template-schema.ts';
import type { WorkflowRuleDefinition } from './rule-schema.ts';
import type { ConnectorDefinition } from './connector-schema.ts';
import type { StateMachineModel } from './workflow/check-state-machines.ts';
import type { ApprovalModel } from './workflow/check-approvals.ts';
import type { RuleCondition } from './condition.ts';
import type { FlowCompiled } from './flows/check-flows.ts';
import type { FlowDefinition } from './flows/flow-schema.ts';
import type { SecurityModel } from './check-security.ts';
import type { IndexDefinition, ObjectDefinition } from './object-schema.ts';
import type { ValidationModel } from './check-validations.ts';
import type { ComputedModel } from './check-computed.ts';

/** `computed`: a formula or roll-up field's checked model (see check-computed.ts); absent on stored fields. */
export type FieldModel = FieldDefinition & { name: string; label: string; computed?: ComputedModel };

/** A validated, normalised object: labels filled in, fields in declaration order. */
export interface ObjectModel {
  name: string;
  label: string;
  pluralLabel: string;
  description?: string;
  /** A UI hint (spec `icon`); described to clients, not part of the content hash (no schema depends on it). */
  icon?: string;
  sharingModel: ObjectDefinition['sharingModel'];
  enable: ObjectDefinition['enable'];
  displayNameField: string;
  fields: FieldModel[];
  indexes: IndexDefinition[];
  /** Validation rules, their conditions parsed at load. */
  validations: ValidationModel[];
  /** File the object was declared in (not part of the content hash). */
  source: string;
}

/** The whole metadata, keyed by a content hash so caches and generated artefacts can be keyed by it. */
export interface MetadataModel {
  objects: ObjectModel[];
  /** Content hash of the objects (what the schema and the database are built from). */
  hash: string;
  /** Roles, groups, permission sets, sharing rules and RLS policies (`*.role|group|permission|sharing|rls.yaml`). */
  security: SecurityModel;
  /** Declared `*.policy.yaml` bundles. */
  policies: PolicyDefinition[];
  /** The policy marked `isDefault`, or the spec's defaults when none is. */
  defaultPolicy: PolicyDefinition;
  /** The `*.audit.yaml` configuration, or the spec's defaults (every event type) when there is none. */
  audit: AuditConfig;
  /** Scheduled jobs (`*.job.yaml`, spec Job). */
  jobs: JobModel[];
  /** Notification templates (`*.template.yaml`); their handlebars is checked by the notifications module. */
  templates: TemplateModel[];
  /** Workflow rules (`*.rule.yaml`, spec WorkflowRule), checked against the objects, roles, templates and connectors; by object, executionOrder, name. */
  rules: RuleModel[];
  /** HTTP connectors (`*.connector.yaml`) that `connector_action` rule actions call. */
  connectors: ConnectorModel[];
  /** Flows (`*.flow.yaml`, spec Flow), checked as graphs and against the objects, connectors, permission sets and each other; by name. */
  flows: FlowModel[];
  /** Record state machines (`*.statemachine.yaml`), each bound to a select field it alone may change; by name. */
  stateMachines: StateMachineModel[];
  /** Approval processes (`*.approval.yaml`, spec Approval), by name. */
  approvals: ApprovalModel[];
}

/** A workflow rule with its criteria parsed (null: no criteria, every event of its trigger passes). */
export type RuleModel = WorkflowRuleDefinition & { source: string; condition: RuleCondition | null };

/**
 * A flow with its conditions parsed: each edge's `condition` (null: none; `criteria` as written), the
 * trigger's, and the field map they are evaluated with (`evaluateFlowCondition`), so an executor never parses.
 */
export type FlowModel = Omit<FlowDefinition, 'edges' | 'trigger'> & FlowCompiled & { source: string };

export type ConnectorModel = ConnectorDefinition & { source: string };

export type TemplateModel = TemplateDefinition & { source: string };

/** A job definition with where it was declared, so a runtime check (an unknown handler) can point at it. */
export type JobModel = JobDefinition & { source: string; handlerAt: { line: number; column: number } };

/** Field names every object gets from the runtime; declaring one is an error. */
export const RESERVED_FIELD_NAMES: readonly string[] = [
  'id', 'created_at', 'updated_at', 'created_by', 'updated_by', 'owner', 'owner_id',
  'organization', 'organization_id', 'deleted_at', 'deleted_by', 'trash_batch', 'history', 'workflow_state', 'version',
];

/** Object names taken by GraphQL built-ins or by ObjectOS's own subgraphs. */
export const RESERVED_OBJECT_NAMES: readonly string[] = [
  'query', 'mutation', 'subscription', 'page_info', 'json', 'date', 'date_time', 'time', 'node',
  'user', 'organization', 'member', 'session', 'api_key', 'audit_event', 'job_run',
];

export const isRelation = (f: FieldDefinition): f is Extract<FieldDefinition, { type: 'lookup' | 'master_detail' }> =>
  f.type === 'lookup' || f.type === 'master_detail';

