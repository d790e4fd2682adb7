/**
 * The identity subgraph's SDL (served by subgraphs/identity over better-auth). It is hand-written, not
 * compiled from metadata, and lives here so that `public.graphql`, the whole client-facing API the SDK
 * is generated from, composes it with the compiled subgraphs.
 */
export const IDENTITY_SDL = /* GraphQL */ `
extend schema @link(url: "https://specs.apollo.dev/federation/v2.6", import: ["@key"])

scalar DateTime

type Query {
  "The signed-in user (null for anonymous requests)."
  me: User
  "Organizations the signed-in user is a member of."
  myOrganizations: [Organization!]!
  "The organization this request acts in (its records are the ones visible)."
  activeOrganization: Organization
  "Members of the active organization."
  members: [Member!]!
  "The signed-in user's sessions."
  mySessions: [Session!]!
  "The signed-in user's API keys (the secret is shown only once, at creation)."
  apiKeys: [ApiKey!]!
  "The role, permission sets and groups this request acts with (null outside an organization)."
  myAccess: MemberAccess
  "A member's role, permission sets and groups in the active organization: your own, or anyone's for an organization owner or admin (null for a non-member)."
  memberAccess(userId: ID!): MemberAccess
  "The active organization's SCIM provisioning tokens (organization owner or admin); a secret is shown only when created."
  scimTokens: [ScimToken!]!
}

type Mutation {
  "Ends one of the signed-in user's sessions; requests with it are refused from then on."
  revokeSession(id: ID!): Boolean!
  "A new API key acting for the signed-in user in the active organization."
  createApiKey(input: CreateApiKeyInput!): CreatedApiKey!
  "Revokes one of the signed-in user's API keys."
  revokeApiKey(id: ID!): Boolean!
  "Replaces a member's role, permission sets and groups in the active organization (organization owner or admin)."
  setMemberAccess(input: SetMemberAccessInput!): MemberAccess!
  "A bearer token for the active organization's SCIM 2.0 endpoint, to give its identity provider (Okta, Entra ID): organization owner or admin, from a signed-in session."
  createScimToken(input: CreateScimTokenInput!): CreatedScimToken!
  "Revokes one of the active organization's SCIM tokens: the provider's next request with it is refused (organization owner or admin)."
  revokeScimToken(id: ID!): Boolean!
}

"What a member holds in the security model of an organization."
type MemberAccess {
  userId: ID!
  "Place in the role hierarchy (a metadata Role), if assigned."
  role: String
  "Assigned permission sets; none → the default profile of the organization role."
  permissionSets: [String!]!
  "Public groups the member belongs to."
  groups: [String!]!
}

input SetMemberAccessInput {
  userId: ID!
  "A metadata Role name; null removes the member from the hierarchy."
  role: String
  permissionSets: [String!]!
  groups: [String!]!
}

type User @key(fields: "id") {
  id: ID!
  name: String!
  email: String!
  emailVerified: Boolean!
  image: String
  twoFactorEnabled: Boolean!
  createdAt: DateTime!
}

type Organization @key(fields: "id") {
  id: ID!
  name: String!
  slug: String!
  createdAt: DateTime!
}

type Member {
  id: ID!
  "Roles in the organization (owner, admin, member…)."
  roles: [String!]!
  createdAt: DateTime!
  user: User!
}

type Session {
  id: ID!
  "True for the session making this request."
  current: Boolean!
  createdAt: DateTime!
  expiresAt: DateTime!
  ipAddress: String
  userAgent: String
}

type ApiKey {
  id: ID!
  name: String
  "The first characters of the key, to recognise it."
  start: String
  enabled: Boolean!
  organizationId: ID
  createdAt: DateTime!
  expiresAt: DateTime
  lastRequest: DateTime
}

type CreatedApiKey {
  "The secret: shown once, store it now."
  key: String!
  apiKey: ApiKey!
}

input CreateApiKeyInput {
  name: String!
  "Days until the key expires; absent = never."
  expiresInDays: Int
}

"A bearer token an identity provider provisions the organization's users and groups with (SCIM 2.0)."
type ScimToken {
  id: ID!
  name: String!
  "The first characters of the token, to recognise it."
  start: String!
  createdAt: DateTime!
  expiresAt: DateTime
  lastUsedAt: DateTime
  revokedAt: DateTime
}

type CreatedScimToken {
  "The secret: shown once, store it in the identity provider now."
  token: String!
  "The SCIM base URL to give the identity provider."
  endpoint: String!
  scimToken: ScimToken!
}

input CreateScimTokenInput {
  name: String!
  "Days until the token expires; absent = never."
  expiresInDays: Int
}
`;
