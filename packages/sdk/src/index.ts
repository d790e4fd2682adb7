export { createObjectOSClient, ObjectOSClientError, type ObjectOSClientOptions, type ObjectOSErrorEntry, type SubscriptionHandlers } from './client.ts';
export * from './generated/graphql.ts';
