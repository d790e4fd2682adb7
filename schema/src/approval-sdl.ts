/**
 * The workflow subgraph's approval processes (spec `Approval`), appended to its SDL when the metadata
 * has any. Extends the root types the workflow SDL declares.
 */
export const APPROVAL_SDL = /* GraphQL */ `
extend type Query {
  "Approval processes from metadata (*.approval.yaml)."
  approvalProcesses: [ApprovalProcess!]!
  "Decisions waiting on you (or on a member who delegated to you), oldest first; each shows only the fields you may read."
  myPendingApprovals: [ApprovalTask!]!
  "A record's approval requests, oldest first (anyone who can read the record)."
  approvalRequests(object: String!, id: ID!): [ApprovalRequest!]!
  approvalRequest(id: ID!): ApprovalRequest
}

extend type Mutation {
  "Submits a record (you must be able to edit it) to its approval process: checks the entry criteria, locks the record, creates the first step's tasks."
  submitForApproval(object: String!, id: ID!, process: String, comment: String): ApprovalRequest!
  "Approves the current step of a request as one of its approvers (or their delegate, or an admin)."
  approve(requestId: ID!, comment: String): ApprovalRequest!
  "Rejects the current step: the process ends, or goes back to the previous step (rejectionBehavior)."
  reject(requestId: ID!, comment: String): ApprovalRequest!
  "Withdraws a pending request (its submitter or an admin): the record is unlocked."
  recall(requestId: ID!): ApprovalRequest!
  "Hands one pending task to another member (its approver, their delegate, or an admin)."
  reassign(taskId: ID!, userId: String!, comment: String): ApprovalTask!
  "Lets another member decide your approvals until a time (null: until cleared); delegateId null clears it."
  setApprovalDelegate(delegateId: String, until: DateTime): ApprovalDelegation
}

extend type Subscription {
  "Your pending approvals: the whole list now, then again whenever it changes."
  myPendingApprovals: [ApprovalTask!]!
}

type ApprovalProcess {
  name: String!
  label: String!
  object: String!
  lockRecord: Boolean!
  steps: [ApprovalStep!]!
}

type ApprovalStep {
  name: String!
  behavior: String!
  rejectionBehavior: String!
}

type ApprovalRequest {
  id: ID!
  process: String!
  object: String!
  recordId: ID!
  status: String!
  "The step now (or at the end)."
  step: String!
  submittedBy: String
  comment: String
  submittedAt: DateTime!
  finishedAt: DateTime
  tasks: [ApprovalTask!]!
}

type ApprovalTask {
  id: ID!
  requestId: ID!
  process: String!
  object: String!
  recordId: ID!
  step: String!
  approverId: String!
  status: String!
  reassignedFrom: String
  decidedBy: String
  comment: String
  dueAt: DateTime
  createdAt: DateTime!
  decidedAt: DateTime
  "The record's fields you may read (metadata names), read now: null when it no longer exists."
  record: JSON
}

type ApprovalDelegation {
  delegateId: String!
  until: DateTime
}
`;
