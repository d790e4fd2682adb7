/* eslint-disable */
import * as types from './graphql.js';
import type { TypedDocumentNode as DocumentNode } from '@graphql-typed-document-node/core';

/**
 * Map of all GraphQL operations in the project.
 *
 * This map has several performance disadvantages:
 * 1. It is not tree-shakeable, so it will include all operations in the project.
 * 2. It is not minifiable, so the string of a GraphQL query will be multiple times inside the bundle.
 * 3. It does not support dead code elimination, so it will add unused operations.
 *
 * Therefore it is highly recommended to use the babel or swc plugin for production.
 * Learn more about it here: https://the-guild.dev/graphql/codegen/plugins/presets/preset-client#reducing-bundle-size
 */
type Documents = {
    "query ListAccounts($where: AccountWhere, $first: Int, $after: String) {\n  accounts(where: $where, first: $first, after: $after, orderBy: [{field: NAME}]) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      id\n      name\n      industry\n      annualRevenue\n      tags\n      contacts(orderBy: [{field: LAST_NAME}]) {\n        id\n        firstName\n        lastName\n        email\n      }\n    }\n  }\n}\n\nquery GetAccount($id: ID!) {\n  account(id: $id) {\n    id\n    name\n    accountNumber\n    type\n    createdAt\n    parentAccount {\n      id\n      name\n    }\n  }\n}\n\nmutation CreateAccount($input: AccountCreateInput!) {\n  createAccount(input: $input) {\n    id\n    name\n    accountNumber\n    industry\n    type\n  }\n}\n\nsubscription AccountChanged($where: AccountWhere, $operations: [ChangeOperation!]) {\n  accountChanged(where: $where, operations: $operations) {\n    eventId\n    op\n    changedFields\n    at\n    record {\n      id\n      name\n      industry\n    }\n    previous {\n      id\n      name\n      industry\n    }\n  }\n}": typeof types.ListAccountsDocument,
};
const documents: Documents = {
    "query ListAccounts($where: AccountWhere, $first: Int, $after: String) {\n  accounts(where: $where, first: $first, after: $after, orderBy: [{field: NAME}]) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      id\n      name\n      industry\n      annualRevenue\n      tags\n      contacts(orderBy: [{field: LAST_NAME}]) {\n        id\n        firstName\n        lastName\n        email\n      }\n    }\n  }\n}\n\nquery GetAccount($id: ID!) {\n  account(id: $id) {\n    id\n    name\n    accountNumber\n    type\n    createdAt\n    parentAccount {\n      id\n      name\n    }\n  }\n}\n\nmutation CreateAccount($input: AccountCreateInput!) {\n  createAccount(input: $input) {\n    id\n    name\n    accountNumber\n    industry\n    type\n  }\n}\n\nsubscription AccountChanged($where: AccountWhere, $operations: [ChangeOperation!]) {\n  accountChanged(where: $where, operations: $operations) {\n    eventId\n    op\n    changedFields\n    at\n    record {\n      id\n      name\n      industry\n    }\n    previous {\n      id\n      name\n      industry\n    }\n  }\n}": types.ListAccountsDocument,
};

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 *
 *
 * @example
 * ```ts
 * const query = graphql(`query GetUser($id: ID!) { user(id: $id) { name } }`);
 * ```
 *
 * The query argument is unknown!
 * Please regenerate the types.
 */
export function graphql(source: string): unknown;

/**
 * The graphql function is used to parse GraphQL queries into a document that can be used by GraphQL clients.
 */
export function graphql(source: "query ListAccounts($where: AccountWhere, $first: Int, $after: String) {\n  accounts(where: $where, first: $first, after: $after, orderBy: [{field: NAME}]) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      id\n      name\n      industry\n      annualRevenue\n      tags\n      contacts(orderBy: [{field: LAST_NAME}]) {\n        id\n        firstName\n        lastName\n        email\n      }\n    }\n  }\n}\n\nquery GetAccount($id: ID!) {\n  account(id: $id) {\n    id\n    name\n    accountNumber\n    type\n    createdAt\n    parentAccount {\n      id\n      name\n    }\n  }\n}\n\nmutation CreateAccount($input: AccountCreateInput!) {\n  createAccount(input: $input) {\n    id\n    name\n    accountNumber\n    industry\n    type\n  }\n}\n\nsubscription AccountChanged($where: AccountWhere, $operations: [ChangeOperation!]) {\n  accountChanged(where: $where, operations: $operations) {\n    eventId\n    op\n    changedFields\n    at\n    record {\n      id\n      name\n      industry\n    }\n    previous {\n      id\n      name\n      industry\n    }\n  }\n}"): (typeof documents)["query ListAccounts($where: AccountWhere, $first: Int, $after: String) {\n  accounts(where: $where, first: $first, after: $after, orderBy: [{field: NAME}]) {\n    totalCount\n    pageInfo {\n      hasNextPage\n      endCursor\n    }\n    nodes {\n      id\n      name\n      industry\n      annualRevenue\n      tags\n      contacts(orderBy: [{field: LAST_NAME}]) {\n        id\n        firstName\n        lastName\n        email\n      }\n    }\n  }\n}\n\nquery GetAccount($id: ID!) {\n  account(id: $id) {\n    id\n    name\n    accountNumber\n    type\n    createdAt\n    parentAccount {\n      id\n      name\n    }\n  }\n}\n\nmutation CreateAccount($input: AccountCreateInput!) {\n  createAccount(input: $input) {\n    id\n    name\n    accountNumber\n    industry\n    type\n  }\n}\n\nsubscription AccountChanged($where: AccountWhere, $operations: [ChangeOperation!]) {\n  accountChanged(where: $where, operations: $operations) {\n    eventId\n    op\n    changedFields\n    at\n    record {\n      id\n      name\n      industry\n    }\n    previous {\n      id\n      name\n      industry\n    }\n  }\n}"];

export function graphql(source: string) {
  return (documents as any)[source] ?? {};
}

export type DocumentType<TDocumentNode extends DocumentNode<any, any>> = TDocumentNode extends DocumentNode<  infer TType,  any>  ? TType  : never;