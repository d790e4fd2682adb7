import type { Principal } from './principal.ts';

/**
 * The contract between the gateway (which receives credentials) and the identity subgraph (which
 * checks them): header names, what counts as a credential, and the answer.
 */
export const API_KEY_HEADER = 'x-api-key';
/** The client address as the gateway determined it; whatever a client sent under this name is replaced. */
export const CLIENT_IP_HEADER = 'x-objectos-client-ip';
/** The client's User-Agent as the gateway received it (for the audit trail), forwarded to subgraphs. */
export const CLIENT_AGENT_HEADER = 'x-objectos-client-agent';
/** Identity subgraph route: credentials in, {@link Resolution} out (gateway-signed calls only). */
export const PRINCIPAL_ENDPOINT = '/internal/principal';

/** The request headers that can carry credentials (all that is sent to the identity subgraph). */
export interface Credentials {
  authorization?: string;
  cookie?: string;
  'x-api-key'?: string;
}

const SESSION_COOKIE = /(?:^|;\s*)((?:__Secure-)?better-auth\.session_token=[^;]*)/;

/** The credentials of a request. Of the cookies, only the session cookie: the site's others stay at the gateway. */
export function credentialsOf(headers: Headers): Credentials {
  const c: Credentials = {};
  const authorization = headers.get('authorization');
  const apiKey = headers.get(API_KEY_HEADER);
  const session = SESSION_COOKIE.exec(headers.get('cookie') ?? '')?.[1];
  if (authorization) c.authorization = authorization;
  if (apiKey) c[API_KEY_HEADER] = apiKey;
  if (session) c.cookie = session;
  return c;
}

/** True when a request carries something that claims to be a credential (so "anonymous" is not an option). */
export const hasCredentials = (headers: Headers): boolean => Object.keys(credentialsOf(headers)).length > 0;

/** Why a request with credentials was refused: the gateway answers with this status, code and message. */
export interface AuthFailure {
  status: 401 | 403;
  code: 'UNAUTHENTICATED' | 'SESSION_EXPIRED' | 'INVALID_API_KEY' | 'USER_BANNED' | 'MFA_REQUIRED' | 'PASSWORD_EXPIRED' | 'NOT_A_MEMBER';
  message: string;
}

/** What authentication answers: a principal (valid until `expiresAt` at most), or why not. */
export type Resolution = { principal: Principal; expiresAt?: number } | { failure: AuthFailure };

/** Data subgraph route (gateway-signed, system principal only) serving the metadata the gateway builds its shield from. */
export const METADATA_ENDPOINT = '/internal/metadata';
/** Audit subgraph route (gateway-signed, the caller's principal): the streaming export of the trail. */
export const AUDIT_EXPORT_ENDPOINT = '/internal/audit/export';
/** Audit subgraph route (gateway-signed, system principal only): the gateway's own events (aggregated denials). */
export const AUDIT_EVENTS_ENDPOINT = '/internal/audit/events';
/**
 * Data subgraph route (gateway-signed, the subscriber's new principal): the access of a live subscription
 * changed (role, groups, permission sets). The subgraph tells it which records left its view, then ends it.
 */
export const SUBSCRIPTION_ACCESS_ENDPOINT = '/internal/subscription-access';
/** Names a subscription's request to its subgraph (a random id per stream), for SUBSCRIPTION_ACCESS_ENDPOINT. */
export const STREAM_HEADER = 'x-objectos-stream';
