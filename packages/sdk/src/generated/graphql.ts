/* eslint-disable */
/** Internal type. DO NOT USE DIRECTLY. */
type Exact<T extends { [key: string]: unknown }> = { [K in keyof T]: T[K] };
/** Internal type. DO NOT USE DIRECTLY. */
export type Incremental<T> = T | { [P in keyof T]?: P extends ' $fragmentName' | '__typename' ? T[P] : never };
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';
/** A Case created under a Account (its Account is the parent). */
export type AccountCasesCreateInput = {
  closedAt?: string | null | undefined;
  contactId?: string | number | null | undefined;
  details?: unknown;
  openedAt?: string | null | undefined;
  origin?: CaseOrigin | null | undefined;
  priority?: CasePriority | null | undefined;
  status?: CaseStatus | null | undefined;
  subject: string;
};

export type AccountCasesWrite = {
  /** Existing Cases (that you can edit) to move under this Account. */
  connect?: Array<string | number> | null | undefined;
  create?: Array<AccountCasesCreateInput> | null | undefined;
  /** Cases of this Account to detach (only when Account is optional). */
  disconnect?: Array<string | number> | null | undefined;
};

/** A Account created under a Account (its Parent Account is the parent). */
export type AccountChildAccountsCreateInput = {
  active?: boolean | null | undefined;
  annualRevenue?: number | null | undefined;
  billingAddress?: unknown;
  /** Cases to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  cases?: AccountCasesWrite | null | undefined;
  /** Accounts to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  childAccounts?: AccountChildAccountsWrite | null | undefined;
  /** Contacts to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  contacts?: AccountContactsWrite | null | undefined;
  description?: string | null | undefined;
  employees?: number | null | undefined;
  foundedOn?: string | null | undefined;
  industry?: AccountIndustry | null | undefined;
  name: string;
  /** Opportunities to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  opportunities?: AccountOpportunitiesWrite | null | undefined;
  phone?: string | null | undefined;
  rating?: number | null | undefined;
  tags?: Array<AccountTags> | null | undefined;
  /** Tasks to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  tasks?: AccountTasksWrite | null | undefined;
  type?: AccountType | null | undefined;
  website?: string | null | undefined;
};

export type AccountChildAccountsWrite = {
  /** Existing Accounts (that you can edit) to move under this Account. */
  connect?: Array<string | number> | null | undefined;
  create?: Array<AccountChildAccountsCreateInput> | null | undefined;
  /** Accounts of this Account to detach (only when Parent Account is optional). */
  disconnect?: Array<string | number> | null | undefined;
};

/** A Contact created under a Account (its Account is the parent). */
export type AccountContactsCreateInput = {
  birthdate?: string | null | undefined;
  /** Cases to create under this Contact, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  cases?: ContactCasesWrite | null | undefined;
  doNotCall?: boolean | null | undefined;
  email?: string | null | undefined;
  firstName?: string | null | undefined;
  lastName: string;
  phone?: string | null | undefined;
  /** Opportunities to create under this Contact, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  primaryOpportunities?: ContactPrimaryOpportunitiesWrite | null | undefined;
  /** Tasks to create under this Contact, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  tasks?: ContactTasksWrite | null | undefined;
  title?: string | null | undefined;
};

export type AccountContactsWrite = {
  /** Existing Contacts (that you can edit) to move under this Account. */
  connect?: Array<string | number> | null | undefined;
  create?: Array<AccountContactsCreateInput> | null | undefined;
  /** Contacts of this Account to detach (only when Account is optional). */
  disconnect?: Array<string | number> | null | undefined;
};

export type AccountCreateInput = {
  active?: boolean | null | undefined;
  annualRevenue?: number | null | undefined;
  billingAddress?: unknown;
  /** Cases to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  cases?: AccountCasesWrite | null | undefined;
  /** Accounts to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  childAccounts?: AccountChildAccountsWrite | null | undefined;
  /** Contacts to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  contacts?: AccountContactsWrite | null | undefined;
  description?: string | null | undefined;
  employees?: number | null | undefined;
  foundedOn?: string | null | undefined;
  industry?: AccountIndustry | null | undefined;
  name: string;
  /** Opportunities to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  opportunities?: AccountOpportunitiesWrite | null | undefined;
  parentAccountId?: string | number | null | undefined;
  phone?: string | null | undefined;
  rating?: number | null | undefined;
  tags?: Array<AccountTags> | null | undefined;
  /** Tasks to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  tasks?: AccountTasksWrite | null | undefined;
  type?: AccountType | null | undefined;
  website?: string | null | undefined;
};

/** Options of account.industry. */
export type AccountIndustry =
  | 'finance'
  | 'healthcare'
  | 'manufacturing'
  | 'retail'
  | 'technology';

export type AccountIndustryFilter = {
  eq?: AccountIndustry | null | undefined;
  in?: Array<AccountIndustry> | null | undefined;
  isNull?: boolean | null | undefined;
  ne?: AccountIndustry | null | undefined;
  nin?: Array<AccountIndustry> | null | undefined;
};

/** A Opportunity created under a Account (its Account is the parent). */
export type AccountOpportunitiesCreateInput = {
  amount?: number | null | undefined;
  closeDate?: string | null | undefined;
  name: string;
  nextStep?: string | null | undefined;
  primaryContactId?: string | number | null | undefined;
  probability?: number | null | undefined;
  stage?: OpportunityStage | null | undefined;
  /** Tasks to create under this Opportunity, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  tasks?: OpportunityTasksWrite | null | undefined;
};

export type AccountOpportunitiesWrite = {
  /** Existing Opportunities (that you can edit) to move under this Account. */
  connect?: Array<string | number> | null | undefined;
  create?: Array<AccountOpportunitiesCreateInput> | null | undefined;
  /** Opportunities of this Account to detach (only when Account is optional). */
  disconnect?: Array<string | number> | null | undefined;
};

export type AccountRelationFilter = {
  /** Every readable Account matches (true when there is none). */
  every?: AccountWhere | null | undefined;
  /** No readable Account matches. */
  none?: AccountWhere | null | undefined;
  /** At least one readable Account matches. */
  some?: AccountWhere | null | undefined;
};

/** Options of account.tags. */
export type AccountTags =
  | 'at_risk'
  | 'key_account'
  | 'strategic';

export type AccountTagsListFilter = {
  hasAll?: Array<AccountTags> | null | undefined;
  hasAny?: Array<AccountTags> | null | undefined;
  isEmpty?: boolean | null | undefined;
  isNull?: boolean | null | undefined;
};

/** A Task created under a Account (its Account is the parent). */
export type AccountTasksCreateInput = {
  contactId?: string | number | null | undefined;
  dueDate?: string | null | undefined;
  estimatedHours?: number | null | undefined;
  opportunityId?: string | number | null | undefined;
  priority?: TaskPriority | null | undefined;
  reminderTime?: string | null | undefined;
  status?: TaskStatus | null | undefined;
  subject: string;
};

export type AccountTasksWrite = {
  /** Existing Tasks (that you can edit) to move under this Account. */
  connect?: Array<string | number> | null | undefined;
  create?: Array<AccountTasksCreateInput> | null | undefined;
  /** Tasks of this Account to detach (only when Account is optional). */
  disconnect?: Array<string | number> | null | undefined;
};

/** Options of account.type. */
export type AccountType =
  | 'customer'
  | 'partner'
  | 'prospect';

export type AccountTypeFilter = {
  eq?: AccountType | null | undefined;
  in?: Array<AccountType> | null | undefined;
  isNull?: boolean | null | undefined;
  ne?: AccountType | null | undefined;
  nin?: Array<AccountType> | null | undefined;
};

export type AccountUpdateInput = {
  active?: boolean | null | undefined;
  annualRevenue?: number | null | undefined;
  billingAddress?: unknown;
  /** Cases to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  cases?: AccountCasesWrite | null | undefined;
  /** Accounts to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  childAccounts?: AccountChildAccountsWrite | null | undefined;
  /** Contacts to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  contacts?: AccountContactsWrite | null | undefined;
  description?: string | null | undefined;
  employees?: number | null | undefined;
  foundedOn?: string | null | undefined;
  industry?: AccountIndustry | null | undefined;
  name?: string | null | undefined;
  /** Opportunities to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  opportunities?: AccountOpportunitiesWrite | null | undefined;
  parentAccountId?: string | number | null | undefined;
  phone?: string | null | undefined;
  rating?: number | null | undefined;
  tags?: Array<AccountTags> | null | undefined;
  /** Tasks to create under this Account, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  tasks?: AccountTasksWrite | null | undefined;
  type?: AccountType | null | undefined;
  website?: string | null | undefined;
};

export type AccountWhere = {
  accountNumber?: StringFilter | null | undefined;
  active?: BooleanFilter | null | undefined;
  and?: Array<AccountWhere> | null | undefined;
  annualRevenue?: FloatFilter | null | undefined;
  billingAddress?: JsonFilter | null | undefined;
  cases?: CaseRelationFilter | null | undefined;
  childAccounts?: AccountRelationFilter | null | undefined;
  contacts?: ContactRelationFilter | null | undefined;
  createdAt?: DateTimeFilter | null | undefined;
  description?: StringFilter | null | undefined;
  employees?: FloatFilter | null | undefined;
  foundedOn?: DateFilter | null | undefined;
  id?: IdFilter | null | undefined;
  industry?: AccountIndustryFilter | null | undefined;
  name?: StringFilter | null | undefined;
  not?: AccountWhere | null | undefined;
  openPipeline?: FloatFilter | null | undefined;
  opportunities?: OpportunityRelationFilter | null | undefined;
  opportunityCount?: FloatFilter | null | undefined;
  or?: Array<AccountWhere> | null | undefined;
  /** Matches when the Parent Account matches (only records you can read). */
  parentAccount?: AccountWhere | null | undefined;
  parentAccountId?: IdFilter | null | undefined;
  phone?: StringFilter | null | undefined;
  rating?: FloatFilter | null | undefined;
  tags?: AccountTagsListFilter | null | undefined;
  tasks?: TaskRelationFilter | null | undefined;
  type?: AccountTypeFilter | null | undefined;
  updatedAt?: DateTimeFilter | null | undefined;
  version?: IntFilter | null | undefined;
  website?: StringFilter | null | undefined;
};

export type BooleanFilter = {
  eq?: boolean | null | undefined;
  isNull?: boolean | null | undefined;
  ne?: boolean | null | undefined;
};

/** Options of case.origin. */
export type CaseOrigin =
  | 'email'
  | 'phone'
  | 'web';

export type CaseOriginFilter = {
  eq?: CaseOrigin | null | undefined;
  in?: Array<CaseOrigin> | null | undefined;
  isNull?: boolean | null | undefined;
  ne?: CaseOrigin | null | undefined;
  nin?: Array<CaseOrigin> | null | undefined;
};

/** Options of case.priority. */
export type CasePriority =
  | 'high'
  | 'low'
  | 'medium';

export type CasePriorityFilter = {
  eq?: CasePriority | null | undefined;
  in?: Array<CasePriority> | null | undefined;
  isNull?: boolean | null | undefined;
  ne?: CasePriority | null | undefined;
  nin?: Array<CasePriority> | null | undefined;
};

export type CaseRelationFilter = {
  /** Every readable Case matches (true when there is none). */
  every?: CaseWhere | null | undefined;
  /** No readable Case matches. */
  none?: CaseWhere | null | undefined;
  /** At least one readable Case matches. */
  some?: CaseWhere | null | undefined;
};

/** Options of case.status. */
export type CaseStatus =
  | 'closed'
  | 'escalated'
  | 'new'
  | 'working';

export type CaseStatusFilter = {
  eq?: CaseStatus | null | undefined;
  in?: Array<CaseStatus> | null | undefined;
  isNull?: boolean | null | undefined;
  ne?: CaseStatus | null | undefined;
  nin?: Array<CaseStatus> | null | undefined;
};

export type CaseWhere = {
  /** Matches when the Account matches (only records you can read). */
  account?: AccountWhere | null | undefined;
  accountId?: IdFilter | null | undefined;
  and?: Array<CaseWhere> | null | undefined;
  caseNumber?: StringFilter | null | undefined;
  closedAt?: DateTimeFilter | null | undefined;
  /** Matches when the Contact matches (only records you can read). */
  contact?: ContactWhere | null | undefined;
  contactId?: IdFilter | null | undefined;
  createdAt?: DateTimeFilter | null | undefined;
  details?: JsonFilter | null | undefined;
  id?: IdFilter | null | undefined;
  not?: CaseWhere | null | undefined;
  openedAt?: DateTimeFilter | null | undefined;
  or?: Array<CaseWhere> | null | undefined;
  origin?: CaseOriginFilter | null | undefined;
  priority?: CasePriorityFilter | null | undefined;
  status?: CaseStatusFilter | null | undefined;
  subject?: StringFilter | null | undefined;
  updatedAt?: DateTimeFilter | null | undefined;
  version?: IntFilter | null | undefined;
};

/** What happened to a record: created, updated, deleted; or it entered or left your view: by a share granted or revoked (of it, or of the record it belongs to), an update, or a change of your own role, groups or permission sets (LEFT carries its id only; after a change of your access the subscription then ends: subscribe again, with after the eventId of the LEFT). */
export type ChangeOperation =
  | 'CREATED'
  | 'DELETED'
  | 'ENTERED'
  | 'LEFT'
  | 'UPDATED';

/** A Case created under a Contact (its Contact is the parent). */
export type ContactCasesCreateInput = {
  accountId?: string | number | null | undefined;
  closedAt?: string | null | undefined;
  details?: unknown;
  openedAt?: string | null | undefined;
  origin?: CaseOrigin | null | undefined;
  priority?: CasePriority | null | undefined;
  status?: CaseStatus | null | undefined;
  subject: string;
};

export type ContactCasesWrite = {
  /** Existing Cases (that you can edit) to move under this Contact. */
  connect?: Array<string | number> | null | undefined;
  create?: Array<ContactCasesCreateInput> | null | undefined;
  /** Cases of this Contact to detach (only when Contact is optional). */
  disconnect?: Array<string | number> | null | undefined;
};

/** A Opportunity created under a Contact (its Primary Contact is the parent). */
export type ContactPrimaryOpportunitiesCreateInput = {
  accountId: string | number;
  amount?: number | null | undefined;
  closeDate?: string | null | undefined;
  name: string;
  nextStep?: string | null | undefined;
  probability?: number | null | undefined;
  stage?: OpportunityStage | null | undefined;
  /** Tasks to create under this Opportunity, or existing ones to connect (or, on update, disconnect), in the same transaction. */
  tasks?: OpportunityTasksWrite | null | undefined;
};

export type ContactPrimaryOpportunitiesWrite = {
  /** Existing Opportunities (that you can edit) to move under this Contact. */
  connect?: Array<string | number> | null | undefined;
  create?: Array<ContactPrimaryOpportunitiesCreateInput> | null | undefined;
  /** Opportunities of this Contact to detach (only when Primary Contact is optional). */
  disconnect?: Array<string | number> | null | undefined;
};

export type ContactRelationFilter = {
  /** Every readable Contact matches (true when there is none). */
  every?: ContactWhere | null | undefined;
  /** No readable Contact matches. */
  none?: ContactWhere | null | undefined;
  /** At least one readable Contact matches. */
  some?: ContactWhere | null | undefined;
};

/** A Task created under a Contact (its Contact is the parent). */
export type ContactTasksCreateInput = {
  accountId?: string | number | null | undefined;
  dueDate?: string | null | undefined;
  estimatedHours?: number | null | undefined;
  opportunityId?: string | number | null | undefined;
  priority?: TaskPriority | null | undefined;
  reminderTime?: string | null | undefined;
  status?: TaskStatus | null | undefined;
  subject: string;
};

export type ContactTasksWrite = {
  /** Existing Tasks (that you can edit) to move under this Contact. */
  connect?: Array<string | number> | null | undefined;
  create?: Array<ContactTasksCreateInput> | null | undefined;
  /** Tasks of this Contact to detach (only when Contact is optional). */
  disconnect?: Array<string | number> | null | undefined;
};

export type ContactWhere = {
  /** Matches when the Account matches (only records you can read). */
  account?: AccountWhere | null | undefined;
  accountId?: IdFilter | null | undefined;
  and?: Array<ContactWhere> | null | undefined;
  birthdate?: DateFilter | null | undefined;
  cases?: CaseRelationFilter | null | undefined;
  createdAt?: DateTimeFilter | null | undefined;
  doNotCall?: BooleanFilter | null | undefined;
  email?: StringFilter | null | undefined;
  firstName?: StringFilter | null | undefined;
  fullName?: StringFilter | null | undefined;
  id?: IdFilter | null | undefined;
  lastName?: StringFilter | null | undefined;
  not?: ContactWhere | null | undefined;
  or?: Array<ContactWhere> | null | undefined;
  phone?: StringFilter | null | undefined;
  primaryOpportunities?: OpportunityRelationFilter | null | undefined;
  tasks?: TaskRelationFilter | null | undefined;
  title?: StringFilter | null | undefined;
  updatedAt?: DateTimeFilter | null | undefined;
  version?: IntFilter | null | undefined;
};

export type CreateApiKeyInput = {
  /** Days until the key expires; absent = never. */
  expiresInDays?: number | null | undefined;
  name: string;
};

export type CreateScimTokenInput = {
  /** Days until the token expires; absent = never. */
  expiresInDays?: number | null | undefined;
  name: string;
};

export type DateFilter = {
  between?: Array<string> | null | undefined;
  eq?: string | null | undefined;
  gt?: string | null | undefined;
  gte?: string | null | undefined;
  in?: Array<string> | null | undefined;
  isNull?: boolean | null | undefined;
  lt?: string | null | undefined;
  lte?: string | null | undefined;
  ne?: string | null | undefined;
  nin?: Array<string> | null | undefined;
};

export type DateTimeFilter = {
  between?: Array<string> | null | undefined;
  eq?: string | null | undefined;
  gt?: string | null | undefined;
  gte?: string | null | undefined;
  isNull?: boolean | null | undefined;
  lt?: string | null | undefined;
  lte?: string | null | undefined;
  ne?: string | null | undefined;
};

export type FloatFilter = {
  between?: Array<number> | null | undefined;
  eq?: number | null | undefined;
  gt?: number | null | undefined;
  gte?: number | null | undefined;
  in?: Array<number> | null | undefined;
  isNull?: boolean | null | undefined;
  lt?: number | null | undefined;
  lte?: number | null | undefined;
  ne?: number | null | undefined;
  nin?: Array<number> | null | undefined;
};

export type IdFilter = {
  eq?: string | number | null | undefined;
  in?: Array<string | number> | null | undefined;
  isNull?: boolean | null | undefined;
  ne?: string | number | null | undefined;
  nin?: Array<string | number> | null | undefined;
};

export type IntFilter = {
  between?: Array<number> | null | undefined;
  eq?: number | null | undefined;
  gt?: number | null | undefined;
  gte?: number | null | undefined;
  in?: Array<number> | null | undefined;
  lt?: number | null | undefined;
  lte?: number | null | undefined;
  ne?: number | null | undefined;
  nin?: Array<number> | null | undefined;
};

export type JsonFilter = {
  contains?: unknown;
  hasKey?: string | null | undefined;
  isNull?: boolean | null | undefined;
};

export type OpportunityRelationFilter = {
  /** Every readable Opportunity matches (true when there is none). */
  every?: OpportunityWhere | null | undefined;
  /** No readable Opportunity matches. */
  none?: OpportunityWhere | null | undefined;
  /** At least one readable Opportunity matches. */
  some?: OpportunityWhere | null | undefined;
};

/** Options of opportunity.stage. */
export type OpportunityStage =
  | 'closed_lost'
  | 'closed_won'
  | 'negotiation'
  | 'proposal'
  | 'prospecting'
  | 'qualification';

export type OpportunityStageFilter = {
  eq?: OpportunityStage | null | undefined;
  in?: Array<OpportunityStage> | null | undefined;
  isNull?: boolean | null | undefined;
  ne?: OpportunityStage | null | undefined;
  nin?: Array<OpportunityStage> | null | undefined;
};

/** A Task created under a Opportunity (its Opportunity is the parent). */
export type OpportunityTasksCreateInput = {
  accountId?: string | number | null | undefined;
  contactId?: string | number | null | undefined;
  dueDate?: string | null | undefined;
  estimatedHours?: number | null | undefined;
  priority?: TaskPriority | null | undefined;
  reminderTime?: string | null | undefined;
  status?: TaskStatus | null | undefined;
  subject: string;
};

export type OpportunityTasksWrite = {
  /** Existing Tasks (that you can edit) to move under this Opportunity. */
  connect?: Array<string | number> | null | undefined;
  create?: Array<OpportunityTasksCreateInput> | null | undefined;
  /** Tasks of this Opportunity to detach (only when Opportunity is optional). */
  disconnect?: Array<string | number> | null | undefined;
};

export type OpportunityWhere = {
  /** Matches when the Account matches (only records you can read). */
  account?: AccountWhere | null | undefined;
  accountId?: IdFilter | null | undefined;
  amount?: FloatFilter | null | undefined;
  and?: Array<OpportunityWhere> | null | undefined;
  closeDate?: DateFilter | null | undefined;
  createdAt?: DateTimeFilter | null | undefined;
  id?: IdFilter | null | undefined;
  name?: StringFilter | null | undefined;
  nextStep?: StringFilter | null | undefined;
  not?: OpportunityWhere | null | undefined;
  or?: Array<OpportunityWhere> | null | undefined;
  /** Matches when the Primary Contact matches (only records you can read). */
  primaryContact?: ContactWhere | null | undefined;
  primaryContactId?: IdFilter | null | undefined;
  probability?: FloatFilter | null | undefined;
  stage?: OpportunityStageFilter | null | undefined;
  tasks?: TaskRelationFilter | null | undefined;
  updatedAt?: DateTimeFilter | null | undefined;
  version?: IntFilter | null | undefined;
  weightedAmount?: FloatFilter | null | undefined;
};

export type StringFilter = {
  contains?: string | null | undefined;
  endsWith?: string | null | undefined;
  eq?: string | null | undefined;
  gt?: string | null | undefined;
  gte?: string | null | undefined;
  in?: Array<string> | null | undefined;
  isNull?: boolean | null | undefined;
  lt?: string | null | undefined;
  lte?: string | null | undefined;
  ne?: string | null | undefined;
  nin?: Array<string> | null | undefined;
  notContains?: string | null | undefined;
  startsWith?: string | null | undefined;
};

/** Options of task.priority. */
export type TaskPriority =
  | 'high'
  | 'low'
  | 'normal';

export type TaskPriorityFilter = {
  eq?: TaskPriority | null | undefined;
  in?: Array<TaskPriority> | null | undefined;
  isNull?: boolean | null | undefined;
  ne?: TaskPriority | null | undefined;
  nin?: Array<TaskPriority> | null | undefined;
};

export type TaskRelationFilter = {
  /** Every readable Task matches (true when there is none). */
  every?: TaskWhere | null | undefined;
  /** No readable Task matches. */
  none?: TaskWhere | null | undefined;
  /** At least one readable Task matches. */
  some?: TaskWhere | null | undefined;
};

/** Options of task.status. */
export type TaskStatus =
  | 'completed'
  | 'in_progress'
  | 'not_started';

export type TaskStatusFilter = {
  eq?: TaskStatus | null | undefined;
  in?: Array<TaskStatus> | null | undefined;
  isNull?: boolean | null | undefined;
  ne?: TaskStatus | null | undefined;
  nin?: Array<TaskStatus> | null | undefined;
};

export type TaskWhere = {
  /** Matches when the Account matches (only records you can read). */
  account?: AccountWhere | null | undefined;
  accountId?: IdFilter | null | undefined;
  and?: Array<TaskWhere> | null | undefined;
  /** Matches when the Contact matches (only records you can read). */
  contact?: ContactWhere | null | undefined;
  contactId?: IdFilter | null | undefined;
  createdAt?: DateTimeFilter | null | undefined;
  dueDate?: DateFilter | null | undefined;
  estimatedHours?: FloatFilter | null | undefined;
  id?: IdFilter | null | undefined;
  not?: TaskWhere | null | undefined;
  /** Matches when the Opportunity matches (only records you can read). */
  opportunity?: OpportunityWhere | null | undefined;
  opportunityId?: IdFilter | null | undefined;
  or?: Array<TaskWhere> | null | undefined;
  priority?: TaskPriorityFilter | null | undefined;
  reminderTime?: TimeFilter | null | undefined;
  status?: TaskStatusFilter | null | undefined;
  subject?: StringFilter | null | undefined;
  updatedAt?: DateTimeFilter | null | undefined;
  version?: IntFilter | null | undefined;
};

export type TimeFilter = {
  between?: Array<string> | null | undefined;
  eq?: string | null | undefined;
  gt?: string | null | undefined;
  gte?: string | null | undefined;
  isNull?: boolean | null | undefined;
  lt?: string | null | undefined;
  lte?: string | null | undefined;
  ne?: string | null | undefined;
};

export type ListAccountsQueryVariables = Exact<{
  where?: AccountWhere | null | undefined;
  first?: number | null | undefined;
  after?: string | null | undefined;
}>;


export type ListAccountsQuery = { accounts: { totalCount: number, pageInfo: { hasNextPage: boolean, endCursor: string | null }, nodes: Array<{ id: string, name: string, industry: AccountIndustry | null, annualRevenue: number | null, tags: Array<AccountTags> | null, contacts: Array<{ id: string, firstName: string | null, lastName: string, email: string | null }> }> } };

export type GetAccountQueryVariables = Exact<{
  id: string | number;
}>;


export type GetAccountQuery = { account: { id: string, name: string, accountNumber: string, type: AccountType | null, createdAt: string, parentAccount: { id: string, name: string } | null } | null };

export type CreateAccountMutationVariables = Exact<{
  input: AccountCreateInput;
}>;


export type CreateAccountMutation = { createAccount: { id: string, name: string, accountNumber: string, industry: AccountIndustry | null, type: AccountType | null } };

export type AccountChangedSubscriptionVariables = Exact<{
  where?: AccountWhere | null | undefined;
  operations?: Array<ChangeOperation> | ChangeOperation | null | undefined;
}>;


export type AccountChangedSubscription = { accountChanged: { eventId: string, op: ChangeOperation, changedFields: Array<string>, at: string, record: { id: string, name: string, industry: AccountIndustry | null } | null, previous: { id: string, name: string, industry: AccountIndustry | null } | null } };

export type UpdateAccountMutationVariables = Exact<{
  id: string | number;
  input: AccountUpdateInput;
}>;


export type UpdateAccountMutation = { updateAccount: { id: string, name: string, industry: AccountIndustry | null, updatedAt: string } };

export type MeQueryVariables = Exact<{ [key: string]: never; }>;


export type MeQuery = { me: { id: string, name: string, email: string, emailVerified: boolean, twoFactorEnabled: boolean, createdAt: string } | null, activeOrganization: { id: string, name: string, slug: string } | null, myAccess: { userId: string, role: string | null, permissionSets: Array<string>, groups: Array<string> } | null };

export type MyOrganizationsQueryVariables = Exact<{ [key: string]: never; }>;


export type MyOrganizationsQuery = { myOrganizations: Array<{ id: string, name: string, slug: string, createdAt: string }> };

export type MembersQueryVariables = Exact<{ [key: string]: never; }>;


export type MembersQuery = { members: Array<{ id: string, roles: Array<string>, createdAt: string, user: { id: string, name: string, email: string } }> };

export type MySessionsQueryVariables = Exact<{ [key: string]: never; }>;


export type MySessionsQuery = { mySessions: Array<{ id: string, current: boolean, createdAt: string, expiresAt: string, ipAddress: string | null, userAgent: string | null }> };

export type ApiKeysQueryVariables = Exact<{ [key: string]: never; }>;


export type ApiKeysQuery = { apiKeys: Array<{ id: string, name: string | null, start: string | null, enabled: boolean, organizationId: string | null, createdAt: string, expiresAt: string | null, lastRequest: string | null }> };

export type CreateApiKeyMutationVariables = Exact<{
  input: CreateApiKeyInput;
}>;


export type CreateApiKeyMutation = { createApiKey: { key: string, apiKey: { id: string, name: string | null, start: string | null, enabled: boolean, organizationId: string | null } } };

export type RevokeApiKeyMutationVariables = Exact<{
  id: string | number;
}>;


export type RevokeApiKeyMutation = { revokeApiKey: boolean };

export type RevokeSessionMutationVariables = Exact<{
  id: string | number;
}>;


export type RevokeSessionMutation = { revokeSession: boolean };

export type ScimTokensQueryVariables = Exact<{ [key: string]: never; }>;


export type ScimTokensQuery = { scimTokens: Array<{ id: string, name: string, start: string, createdAt: string, expiresAt: string | null, lastUsedAt: string | null, revokedAt: string | null }> };

export type CreateScimTokenMutationVariables = Exact<{
  input: CreateScimTokenInput;
}>;


export type CreateScimTokenMutation = { createScimToken: { token: string, endpoint: string, scimToken: { id: string, name: string, start: string, expiresAt: string | null } } };

export type RevokeScimTokenMutationVariables = Exact<{
  id: string | number;
}>;


export type RevokeScimTokenMutation = { revokeScimToken: boolean };


export const ListAccountsDocument = {"__meta__":{"hash":"sha256:43a273a30f844d9ea0acd93847903ff6b5c0766f61063cb6e8c70b29585905f5"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ListAccounts"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"where"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"AccountWhere"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"first"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"Int"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"after"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"String"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"accounts"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"where"},"value":{"kind":"Variable","name":{"kind":"Name","value":"where"}}},{"kind":"Argument","name":{"kind":"Name","value":"first"},"value":{"kind":"Variable","name":{"kind":"Name","value":"first"}}},{"kind":"Argument","name":{"kind":"Name","value":"after"},"value":{"kind":"Variable","name":{"kind":"Name","value":"after"}}},{"kind":"Argument","name":{"kind":"Name","value":"orderBy"},"value":{"kind":"ListValue","values":[{"kind":"ObjectValue","fields":[{"kind":"ObjectField","name":{"kind":"Name","value":"field"},"value":{"kind":"EnumValue","value":"NAME"}}]}]}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"totalCount"}},{"kind":"Field","name":{"kind":"Name","value":"pageInfo"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"hasNextPage"}},{"kind":"Field","name":{"kind":"Name","value":"endCursor"}}]}},{"kind":"Field","name":{"kind":"Name","value":"nodes"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"industry"}},{"kind":"Field","name":{"kind":"Name","value":"annualRevenue"}},{"kind":"Field","name":{"kind":"Name","value":"tags"}},{"kind":"Field","name":{"kind":"Name","value":"contacts"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"orderBy"},"value":{"kind":"ListValue","values":[{"kind":"ObjectValue","fields":[{"kind":"ObjectField","name":{"kind":"Name","value":"field"},"value":{"kind":"EnumValue","value":"LAST_NAME"}}]}]}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"firstName"}},{"kind":"Field","name":{"kind":"Name","value":"lastName"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}}]}}]}}]}}]} as unknown as DocumentNode<ListAccountsQuery, ListAccountsQueryVariables>;
export const GetAccountDocument = {"__meta__":{"hash":"sha256:8393879ed4bcdbaad1869b741db5a0dd6da8103d18cb562e35baeaceb7c60b83"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"GetAccount"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"account"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"accountNumber"}},{"kind":"Field","name":{"kind":"Name","value":"type"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"parentAccount"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}}]}}]}}]}}]} as unknown as DocumentNode<GetAccountQuery, GetAccountQueryVariables>;
export const CreateAccountDocument = {"__meta__":{"hash":"sha256:0ee37088557cbb5dc3d2b7e64efe618f5f3fc14dcead8cbf5becc6574dae6793"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateAccount"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"AccountCreateInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createAccount"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"accountNumber"}},{"kind":"Field","name":{"kind":"Name","value":"industry"}},{"kind":"Field","name":{"kind":"Name","value":"type"}}]}}]}}]} as unknown as DocumentNode<CreateAccountMutation, CreateAccountMutationVariables>;
export const AccountChangedDocument = {"__meta__":{"hash":"sha256:856fd288f808341f12793dd560dddca56645e94b6e35635b8652a803dcf60892"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"subscription","name":{"kind":"Name","value":"AccountChanged"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"where"}},"type":{"kind":"NamedType","name":{"kind":"Name","value":"AccountWhere"}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"operations"}},"type":{"kind":"ListType","type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ChangeOperation"}}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"accountChanged"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"where"},"value":{"kind":"Variable","name":{"kind":"Name","value":"where"}}},{"kind":"Argument","name":{"kind":"Name","value":"operations"},"value":{"kind":"Variable","name":{"kind":"Name","value":"operations"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"eventId"}},{"kind":"Field","name":{"kind":"Name","value":"op"}},{"kind":"Field","name":{"kind":"Name","value":"changedFields"}},{"kind":"Field","name":{"kind":"Name","value":"at"}},{"kind":"Field","name":{"kind":"Name","value":"record"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"industry"}}]}},{"kind":"Field","name":{"kind":"Name","value":"previous"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"industry"}}]}}]}}]}}]} as unknown as DocumentNode<AccountChangedSubscription, AccountChangedSubscriptionVariables>;
export const UpdateAccountDocument = {"__meta__":{"hash":"sha256:7bcf950f43e24e8260372e1adf811d10850515a3a767f45b9fda2bf7ebfa7a63"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"UpdateAccount"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}},{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"AccountUpdateInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"updateAccount"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}},{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"industry"}},{"kind":"Field","name":{"kind":"Name","value":"updatedAt"}}]}}]}}]} as unknown as DocumentNode<UpdateAccountMutation, UpdateAccountMutationVariables>;
export const MeDocument = {"__meta__":{"hash":"sha256:4b8703567ccf5f0b8c68114d5f7c148b4ae87b30c455b53df5e79145bacb4b5d"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"me"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"email"}},{"kind":"Field","name":{"kind":"Name","value":"emailVerified"}},{"kind":"Field","name":{"kind":"Name","value":"twoFactorEnabled"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}},{"kind":"Field","name":{"kind":"Name","value":"activeOrganization"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"slug"}}]}},{"kind":"Field","name":{"kind":"Name","value":"myAccess"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"userId"}},{"kind":"Field","name":{"kind":"Name","value":"role"}},{"kind":"Field","name":{"kind":"Name","value":"permissionSets"}},{"kind":"Field","name":{"kind":"Name","value":"groups"}}]}}]}}]} as unknown as DocumentNode<MeQuery, MeQueryVariables>;
export const MyOrganizationsDocument = {"__meta__":{"hash":"sha256:c821e3232154076cfa050e0c533c6ae4005bc0ab24b63436d20f9b1edea72a68"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"MyOrganizations"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"myOrganizations"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"slug"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}}]}}]}}]} as unknown as DocumentNode<MyOrganizationsQuery, MyOrganizationsQueryVariables>;
export const MembersDocument = {"__meta__":{"hash":"sha256:8359521960aaf195726437e3ce07d39ce75a6ced572cce6f7ed47a7af3b23043"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"Members"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"members"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"roles"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"user"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"email"}}]}}]}}]}}]} as unknown as DocumentNode<MembersQuery, MembersQueryVariables>;
export const MySessionsDocument = {"__meta__":{"hash":"sha256:8defb5d5261ce12579115c5942726b825cafab0be69ff52907c8457c681bafee"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"MySessions"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"mySessions"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"current"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"ipAddress"}},{"kind":"Field","name":{"kind":"Name","value":"userAgent"}}]}}]}}]} as unknown as DocumentNode<MySessionsQuery, MySessionsQueryVariables>;
export const ApiKeysDocument = {"__meta__":{"hash":"sha256:a07c1981889f78e8ec1e31358734c8e76c36977380ff5ebf52f79a9eb42df3a0"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ApiKeys"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"apiKeys"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"start"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"organizationId"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"lastRequest"}}]}}]}}]} as unknown as DocumentNode<ApiKeysQuery, ApiKeysQueryVariables>;
export const CreateApiKeyDocument = {"__meta__":{"hash":"sha256:5d781e0b8b3436ad73a92246e50f2b6c7b9975c7f5b96203c1cad8fe2d045d9f"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateApiKey"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateApiKeyInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createApiKey"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"key"}},{"kind":"Field","name":{"kind":"Name","value":"apiKey"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"start"}},{"kind":"Field","name":{"kind":"Name","value":"enabled"}},{"kind":"Field","name":{"kind":"Name","value":"organizationId"}}]}}]}}]}}]} as unknown as DocumentNode<CreateApiKeyMutation, CreateApiKeyMutationVariables>;
export const RevokeApiKeyDocument = {"__meta__":{"hash":"sha256:94eae462670f9a7708b8dd4e86cd65b90c59302e32050edaa13ed09041fead63"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RevokeApiKey"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"revokeApiKey"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}]}]}}]} as unknown as DocumentNode<RevokeApiKeyMutation, RevokeApiKeyMutationVariables>;
export const RevokeSessionDocument = {"__meta__":{"hash":"sha256:0da1f5ad6ca30b47e1cb2c8f9b833664fb3647a47c585080a1a7fa8bc04c825c"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RevokeSession"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"revokeSession"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}]}]}}]} as unknown as DocumentNode<RevokeSessionMutation, RevokeSessionMutationVariables>;
export const ScimTokensDocument = {"__meta__":{"hash":"sha256:2e444b7dafc7a352743d8095931bd592c906eff4cbfba4de1faa39386959e70e"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"query","name":{"kind":"Name","value":"ScimTokens"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"scimTokens"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"start"}},{"kind":"Field","name":{"kind":"Name","value":"createdAt"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}},{"kind":"Field","name":{"kind":"Name","value":"lastUsedAt"}},{"kind":"Field","name":{"kind":"Name","value":"revokedAt"}}]}}]}}]} as unknown as DocumentNode<ScimTokensQuery, ScimTokensQueryVariables>;
export const CreateScimTokenDocument = {"__meta__":{"hash":"sha256:29410e4f04f7b64f209ed4835ce16dd37856fdf663daf3e1676eeceb8b88c2d5"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"CreateScimToken"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"input"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"CreateScimTokenInput"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"createScimToken"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"input"},"value":{"kind":"Variable","name":{"kind":"Name","value":"input"}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"token"}},{"kind":"Field","name":{"kind":"Name","value":"endpoint"}},{"kind":"Field","name":{"kind":"Name","value":"scimToken"},"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"id"}},{"kind":"Field","name":{"kind":"Name","value":"name"}},{"kind":"Field","name":{"kind":"Name","value":"start"}},{"kind":"Field","name":{"kind":"Name","value":"expiresAt"}}]}}]}}]}}]} as unknown as DocumentNode<CreateScimTokenMutation, CreateScimTokenMutationVariables>;
export const RevokeScimTokenDocument = {"__meta__":{"hash":"sha256:adec9aacfdf48a2fdb46ec5492c6ef21f77615fa12f27ccb70b15909a410647d"},"kind":"Document","definitions":[{"kind":"OperationDefinition","operation":"mutation","name":{"kind":"Name","value":"RevokeScimToken"},"variableDefinitions":[{"kind":"VariableDefinition","variable":{"kind":"Variable","name":{"kind":"Name","value":"id"}},"type":{"kind":"NonNullType","type":{"kind":"NamedType","name":{"kind":"Name","value":"ID"}}}}],"selectionSet":{"kind":"SelectionSet","selections":[{"kind":"Field","name":{"kind":"Name","value":"revokeScimToken"},"arguments":[{"kind":"Argument","name":{"kind":"Name","value":"id"},"value":{"kind":"Variable","name":{"kind":"Name","value":"id"}}}]}]}}]} as unknown as DocumentNode<RevokeScimTokenMutation, RevokeScimTokenMutationVariables>;