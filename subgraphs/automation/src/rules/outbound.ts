import { renderTemplate, type ConnectorModel, type TemplateScope } from '@objectos/metadata';
import { checkTarget, postPinned, type PinnedResponse, type TargetAllowance } from '@objectos/notifications';

/** An action that cannot succeed however often it runs (a refused write, a 4xx answer, a script error): no retry. */
export class ActionFailure extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ActionFailure';
  }
}

/** What an outbound call is allowed to send. */
export const MAX_BODY_BYTES = 256 * 1024;

/** One HTTP call, rendered: where it goes and what it carries. */
export interface OutboundRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body: string;
  timeoutMs: number;
}

/** A request body from metadata: a string template as it is, a mapping as JSON with each value escaped into its string. */
export function renderBody(body: string | Record<string, unknown>, scope: TemplateScope): string {
  return typeof body === 'string' ? renderTemplate(body, scope) : renderTemplate(JSON.stringify(body), scope, (v) => JSON.stringify(v).slice(1, -1));
}

/** Connector credentials, read from the environment at call time: never stored, logged or returned. */
function authHeaders(c: ConnectorModel, env: NodeJS.ProcessEnv): Record<string, string> {
  const need = (name: string) => {
    const v = env[name];
    if (!v) throw new ActionFailure(`connector ${c.name}: the environment variable ${name} is not set`);
    return v;
  };
  switch (c.auth.type) {
    case 'none': return {};
    case 'bearer': return { authorization: `Bearer ${need(c.auth.tokenEnv)}` };
    case 'basic': return { authorization: `Basic ${Buffer.from(`${need(c.auth.usernameEnv)}:${need(c.auth.passwordEnv)}`).toString('base64')}` };
    case 'api_key': return { [c.auth.header]: need(c.auth.keyEnv) };
    default: return {};
  }
}

/**
 * A connector action's call (`*.connector.yaml`): its endpoint's path and body rendered with `input`
 * (and whatever else `scope` holds), its headers and the connector's credentials. One code path for
 * rule actions and flow nodes, so both send exactly the same request for the same input.
 */
export function connectorRequest(connector: ConnectorModel, actionId: string, input: Record<string, unknown>, scope: TemplateScope, env: NodeJS.ProcessEnv): OutboundRequest {
  const endpoint = connector.actions[actionId];
  if (!endpoint) throw new ActionFailure(`connector ${connector.name} has no action "${actionId}"`);
  const withInput = { ...scope, input };
  const body = endpoint.body === undefined ? JSON.stringify(input) : renderBody(endpoint.body, withInput);
  const url = `${connector.baseUrl.replace(/\/$/, '')}${renderTemplate(endpoint.path, withInput, encodeURIComponent)}`;
  return { url, method: endpoint.method, headers: { ...connector.headers, ...endpoint.headers, ...authHeaders(connector, env) }, body, timeoutMs: connector.timeoutMs };
}

const hasHeader = (headers: Record<string, string>, name: string) => Object.keys(headers).some((k) => k.toLowerCase() === name);

/**
 * One outbound call through the SSRF guard (the webhooks' guard: no private, loopback or link-local
 * target unless allowed; connected to the checked address; no redirect followed). 2xx resolves with the
 * answer; 5xx and timeouts throw for a retry; any other status fails for good (ActionFailure). The
 * idempotency key goes with it, so a receiver can tell a repeat from a new call.
 */
export async function sendOutbound(r: OutboundRequest, key: string, allow: TargetAllowance): Promise<PinnedResponse> {
  if (Buffer.byteLength(r.body) > MAX_BODY_BYTES) throw new ActionFailure(`the request body is over ${MAX_BODY_BYTES} bytes`);
  let target;
  try {
    target = await checkTarget(r.url, allow);
  } catch (e) {
    throw new ActionFailure((e as Error).message);
  }
  const hasBody = r.method !== 'GET' && r.method !== 'DELETE';
  const res = await postPinned('webhook', target, {
    method: r.method,
    headers: { 'User-Agent': 'ObjectOS-Automation/1', 'X-ObjectOS-Idempotency-Key': key, ...(hasBody && r.body && !hasHeader(r.headers, 'content-type') ? { 'Content-Type': 'application/json' } : {}), ...r.headers },
    body: hasBody ? r.body : '',
    timeoutMs: r.timeoutMs,
  });
  if (res.status >= 500) throw new Error(`${target.url.origin} answered ${res.status}`);
  if (res.status < 200 || res.status >= 300) throw new ActionFailure(`${target.url.origin} answered ${res.status}${res.status < 400 && res.headers.location ? ' (redirect not followed)' : ''}`);
  return res;
}
