export { createObjectOSClient, ObjectOSClientError, type ObjectOSClientOptions, type ObjectOSErrorEntry } from './client.ts';
export * from './generated/graphql.ts';
