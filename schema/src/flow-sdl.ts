/**
 * Flow execution in the workflow subgraph (spec `Flow`): the flows from metadata, runs started through
 * the API, signals to waiting runs, and each run's step log. Appended to the workflow SDL (it extends
 * its Query and Mutation); renamed with it under a name prefix.
 */
export const FLOW_SDL = /* GraphQL */ `
scalar JSON

extend type Query {
  "The flows from metadata (*.flow.yaml) with their variables (members of the organization)."
  flows: [FlowDefinition!]!
  """
  Runs of flows in your organization, newest first: all of them with the manageWorkflows permission,
  otherwise those you started. first: at most 500 (default 50).
  """
  flowRuns(where: FlowRunWhere, first: Int): [FlowRun!]!
  "One run with its step log (null: no run you can see has this id)."
  flowRun(id: ID!): FlowRun
}

extend type Mutation {
  """
  Starts an active autolaunched flow with these input variables (a mapping by variable name). Allowed to
  members holding one of the flow's permission sets, or the manageWorkflows permission. The run goes on
  in the background: read it with flowRun.
  """
  startFlow(name: String!, inputs: JSON): FlowRun!
  "Resumes a run waiting at a signal or manual wait for this signal; payload is kept in the wait's step output."
  signalFlow(runId: ID!, signal: String!, payload: JSON): FlowRun!
  "Cancels a run that has not finished (and the subflow it waits on)."
  cancelFlowRun(id: ID!): FlowRun!
}

enum FlowRunStatus {
  running
  waiting
  completed
  failed
  cancelled
}

enum FlowStepStatus {
  succeeded
  failed
  waiting
  skipped
}

input FlowRunWhere {
  flow: String
  status: FlowRunStatus
  "A user id: runs that user started."
  startedBy: String
}

type FlowDefinition {
  name: String!
  label: String!
  description: String
  "autolaunched, record_change or schedule."
  type: String!
  "draft, active, obsolete or invalid (only active flows run)."
  status: String!
  version: Int!
  "system or user: whom record nodes act as."
  runAs: String!
  variables: [FlowVariableDefinition!]!
}

type FlowVariableDefinition {
  name: String!
  type: String!
  "The object of a record variable."
  object: String
  isInput: Boolean!
  isOutput: Boolean!
}

type FlowRun {
  id: ID!
  flow: String!
  flowVersion: Int!
  status: FlowRunStatus!
  "system or user."
  runAs: String!
  "The user who started it (null: a schedule, or a change the runtime made)."
  startedBy: String
  "What started it: { type: api | record_change | schedule | subflow, … }."
  trigger: JSON!
  "The node it runs or waits at next (null once finished)."
  nextNode: String
  "What a waiting run waits for: { kind: timer | signal | retry | child, … }."
  waitingFor: JSON
  """
  The run's variables. For a runAs system run, only with manageWorkflows (records read in system
  context are not shown to whoever started it).
  """
  variables: JSON
  "Its output variables once completed."
  outputs: JSON
  error: String
  "The run that started this one as a subflow."
  parentRunId: ID
  startedAt: DateTime!
  updatedAt: DateTime!
  finishedAt: DateTime
  "The step log, in order (input and output shown as for variables)."
  steps: [FlowStep!]!
}

type FlowStep {
  seq: Int!
  node: String!
  type: String!
  status: FlowStepStatus!
  input: JSON
  output: JSON
  error: String
  "1, or the retry it was (errorHandling retry)."
  attempt: Int!
  startedAt: DateTime!
  finishedAt: DateTime
  "Milliseconds from start to finish (a wait: until it resumed); null while it waits."
  duration: Int
}
`;
