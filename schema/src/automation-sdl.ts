import type { MetadataModel } from '@objectos/metadata';
import type { Inflection } from './inflection.ts';
import type { DataPlan, ObjectPlan } from './plan.ts';

/**
 * The automation subgraph's SDL (subgraphs/automation): the job monitor and notifications. Hand-written
 * like identity's, since neither depends on the objects; composed into `public.graphql` so the SDK has
 * its types.
 */
export const AUTOMATION_SDL = /* GraphQL */ `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])

scalar DateTime
scalar JSON

type Query {
  "Job queues with their counts (viewJobs; an organization's admins count only their organization's jobs)."
  jobQueues: [JobQueue!]!
  "Job runs, newest first (viewJobs; tenant-scoped)."
  jobRuns(queue: String, status: JobStatus, first: Int = 50): [JobRun!]!
  "One job run (viewJobs; tenant-scoped)."
  jobRun(id: ID!): JobRun
  "Jobs whose last attempt failed (viewJobs; tenant-scoped)."
  deadLetters(queue: String, first: Int = 50): [JobRun!]!
  "Scheduled jobs from metadata (*.job.yaml) with their next tick (viewJobs)."
  jobSchedules: [JobSchedule!]!
  "The signed-in user's in-app notifications in the active organization, newest first."
  myNotifications(unreadOnly: Boolean = false, first: Int = 20, after: String): NotificationConnection!
  "The signed-in user's notification preferences in the active organization."
  notificationPreferences: [NotificationPreference!]!
  "Workflow rules from metadata (*.rule.yaml), each with whether it is on in your organization (manageAutomation)."
  automationRules: [AutomationRule!]!
  "What rule actions did, newest first: per action its status, attempts and last error (manageAutomation; your organization's)."
  automationRuns(where: AutomationRunWhere, first: Int = 50): [AutomationRun!]!
  "Time-trigger actions still waiting for one record, soonest first (manageAutomation)."
  pendingTimeTriggers(object: String!, id: ID!): [AutomationRun!]!
}

type Mutation {
  "Runs a job waiting for its next retry now (manageJobs)."
  retryJob(id: ID!): JobRun!
  "Gives a dead job one more attempt (manageJobs)."
  replayDeadLetter(id: ID!): JobRun!
  "Cancels a job that has not started (manageJobs)."
  cancelJob(id: ID!): JobRun!
  "Stops workers taking jobs of a queue, on every replica (manageJobs; platform operators only: queues are shared)."
  pauseQueue(queue: String!): JobQueue!
  resumeQueue(queue: String!): JobQueue!
  "Marks one of the signed-in user's notifications read; false when it was already read."
  markNotificationRead(id: ID!): Boolean!
  "Turns a channel on or off for a topic (or * for all, or a family like billing.*). Security mail cannot be turned off."
  setNotificationPreference(channel: NotificationChannel!, topic: String!, enabled: Boolean!): NotificationPreference!
  "Stores this browser's Web Push subscription for the signed-in user."
  registerPushSubscription(input: PushSubscriptionInput!): Boolean!
  "Turns a workflow rule on or off for your organization (manageAutomation; audited)."
  setAutomationRuleActive(name: String!, active: Boolean!): AutomationRule!
  "Runs a failed rule action again, with its first idempotency key: an effect already done is not done twice (manageAutomation; audited)."
  retryAutomationRun(id: ID!): AutomationRun!
}

type Subscription {
  "Each new in-app notification of the signed-in user in the active organization, as it is stored."
  notificationReceived: Notification!
}

enum JobStatus { WAITING DELAYED ACTIVE RETRYING COMPLETED DEAD CANCELLED }
enum JobPriority { CRITICAL HIGH NORMAL LOW BACKGROUND }
enum NotificationChannel { EMAIL IN_APP PUSH SMS WEBHOOK }

type JobQueue {
  name: String!
  paused: Boolean!
  waiting: Int!
  active: Int!
  delayed: Int!
  retrying: Int!
  failed: Int!
  completed: Int!
  cancelled: Int!
}

type JobRun {
  id: ID!
  queue: String!
  "The idempotency key the job was enqueued with."
  key: String!
  tenantId: ID
  status: JobStatus!
  priority: JobPriority!
  attempts: Int!
  maxAttempts: Int!
  error: String
  data: JSON
  createdAt: DateTime!
  runAt: DateTime
  startedAt: DateTime
  finishedAt: DateTime
  durationMs: Int
}

type JobSchedule {
  name: String!
  handler: String!
  "cron, interval or once."
  type: String!
  expression: String
  timezone: String
  intervalMs: Int
  at: DateTime
  enabled: Boolean!
  nextRunAt: DateTime
}

type Notification {
  id: ID!
  topic: String!
  title: String!
  body: String!
  data: JSON
  createdAt: DateTime!
  readAt: DateTime
}

type NotificationConnection {
  nodes: [Notification!]!
  endCursor: String
  hasNextPage: Boolean!
}

type NotificationPreference {
  channel: NotificationChannel!
  topic: String!
  enabled: Boolean!
}

type AutomationRule {
  name: String!
  label: String
  description: String
  objectName: String!
  "on_create, on_update, on_create_or_update, on_delete or schedule."
  triggerType: String!
  "The criteria as declared (SQL-ish text, or the filter object as JSON)."
  criteria: String
  "On in your organization (the metadata's active unless switched)."
  active: Boolean!
  executionOrder: Int!
  reevaluateOnChange: Boolean!
  "system or user."
  runAs: String!
  actions: [AutomationAction!]!
  "Actions of the rule's time triggers."
  timeTriggerActions: [AutomationAction!]!
  "Cron expression of a schedule rule."
  schedule: String
}

type AutomationAction {
  name: String!
  "field_update, email_alert, http_call, connector_action, task_creation, push_notification or custom_script."
  type: String!
}

enum AutomationRunStatus { QUEUED RUNNING RETRYING SUCCEEDED FAILED CANCELLED STOPPED }

input AutomationRunWhere {
  rule: String
  object: String
  recordId: ID
  status: AutomationRunStatus
}

type AutomationRun {
  id: ID!
  rule: String!
  action: String!
  actionType: String!
  object: String!
  recordId: ID!
  "The change that ran it, or scheduled it (a time trigger)."
  eventId: ID
  "event, time_trigger or schedule."
  trigger: String!
  "1 for a person's change; n+1 when a rule's change at depth n ran it."
  depth: Int!
  status: AutomationRunStatus!
  attempts: Int!
  error: String
  "What the action did (the field and value, the task id, the answer's status…)."
  result: JSON
  "When a time trigger is due."
  dueAt: DateTime
  createdAt: DateTime!
  startedAt: DateTime
  finishedAt: DateTime
}

input PushSubscriptionInput {
  endpoint: String!
  p256dh: String!
  auth: String!
}
`;

/** The objects workflow rules act on, in plan order. */
export const ruleObjects = (plan: DataPlan, model: Pick<MetadataModel, 'rules'>): ObjectPlan[] =>
  Object.values(plan.objects).filter((p) => p.methods.length > 0 && model.rules.some((r) => r.objectName === p.object.name));

/**
 * `automationRuns` on every record type that rules act on, added by extending the data subgraph's
 * entity (as the audit subgraph adds `history`). Appended to {@link AUTOMATION_SDL} after any renaming:
 * the entity names are the plan's own.
 */
export function automationEntitySdl(plan: DataPlan, model: Pick<MetadataModel, 'rules'>, inflect: Pick<Inflection, 'sharedType'>): string {
  return ruleObjects(plan, model).map((p) => `
type ${p.typeName} @key(fields: "id") {
  id: ID!
  "What workflow rules did with this record, newest first (manageAutomation)."
  automationRuns(first: Int = 20): [${inflect.sharedType('AutomationRun')}!]!
}
`).join('');
}
