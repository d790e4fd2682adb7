import type { MetadataModel } from '@objectos/metadata';
import type { Inflection } from './inflection.ts';
import type { DataPlan, ObjectPlan } from './plan.ts';

/**
 * The workflow subgraph's SDL (subgraphs/workflow): record state machines (transitions and their
 * history). Hand-written like automation's; governed record types get `workflowState` by extending the
 * data subgraph's entity ({@link workflowEntitySdl}).
 */
export const WORKFLOW_SDL = /* GraphQL */ `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])

scalar DateTime

type Query {
  "The state machines from metadata (*.statemachine.yaml): states and transitions."
  stateMachines: [StateMachine!]!
  "Transitions a record took, oldest first (anyone who can read the record)."
  workflowHistory(object: String!, id: ID!): [WorkflowHistoryEntry!]!
}

type Mutation {
  """
  Moves a record's state field along one transition of its state machine: the guards (conditions,
  roles, permissions) are checked for you, the change and its history entry are one write, and the
  exit, transition and entry actions run after it commits. An event not allowed from the record's
  state is refused with the allowed ones named.
  """
  transition(object: String!, id: ID!, event: String!, comment: String): WorkflowTransitionResult!
}

type StateMachine {
  name: String!
  label: String!
  object: String!
  field: String!
  initial: String!
  states: [WorkflowStateDefinition!]!
  transitions: [WorkflowTransitionDefinition!]!
}

type WorkflowStateDefinition {
  name: String!
  label: String!
  initial: Boolean!
  final: Boolean!
}

type WorkflowTransitionDefinition {
  event: String!
  label: String!
  from: String!
  to: String!
}

"A record's place in its state machine, as the caller sees it."
type WorkflowState {
  machine: String!
  field: String!
  state: String!
  label: String!
  final: Boolean!
  "Transitions from this state whose guards pass for the caller."
  availableTransitions: [WorkflowAvailableTransition!]!
}

type WorkflowAvailableTransition {
  event: String!
  label: String!
  to: String!
}

type WorkflowHistoryEntry {
  id: ID!
  machine: String!
  event: String!
  from: String!
  to: String!
  "Who took the transition (null: the runtime)."
  actorId: String
  comment: String
  createdAt: DateTime!
}

type WorkflowTransitionResult {
  id: ID!
  object: String!
  recordId: ID!
  event: String!
  from: String!
  to: String!
  state: WorkflowState!
}
`;

/** The record types state machines govern, in plan order. */
export const governedObjects = (plan: DataPlan, model: Pick<MetadataModel, 'stateMachines'>): ObjectPlan[] =>
  Object.values(plan.objects).filter((p) => p.methods.includes('get') && model.stateMachines.some((m) => m.object === p.object.name));

/** `workflowState` on every governed record type, by extending the data subgraph's entity. */
export function workflowEntitySdl(plan: DataPlan, model: Pick<MetadataModel, 'stateMachines'>, inflect: Pick<Inflection, 'sharedType'>): string {
  return governedObjects(plan, model).map((p) => `
type ${p.typeName} @key(fields: "id") {
  id: ID!
  "Where this record is in its state machine, with the transitions you may take (null: a record you cannot read)."
  workflowState: ${inflect.sharedType('WorkflowState')}
}
`).join('');
}
