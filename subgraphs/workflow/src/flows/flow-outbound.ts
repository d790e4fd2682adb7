import { connectorRequest, sendOutbound, type DeliveryConfig } from '@objectos/automation-subgraph';
import { FLOW_PLACEHOLDER, resolveFlowValue, type FlowNode, type MetadataModel } from '@objectos/metadata';
import type { Variables } from './flow-store.ts';

type HttpNode = Extract<FlowNode, { type: 'http_request' }>;
type ConnectorNode = Extract<FlowNode, { type: 'connector_action' }>;

/** What a call's answer gives the flow: `body` parsed when the receiver says it is JSON. */
export interface FlowResponse {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

export interface OutboundDeps {
  model: MetadataModel;
  /** Internal targets calls may reach (OBJECTOS_WEBHOOK_ALLOW); none by default. */
  allow: NonNullable<DeliveryConfig['allow']>;
  /** Where connector credentials are read. */
  env: NodeJS.ProcessEnv;
}

const text = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'string' ? v : typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v) ?? '');

/** A URL with its placeholders filled, each value encoded as one path or query component (a value cannot add a path segment or parameter). */
function renderUrl(url: string, vars: Variables): string {
  return url.replace(FLOW_PLACEHOLDER, (_, expr: string) => encodeURIComponent(text(resolveFlowValue(`{!${expr.trim()}}`, vars))));
}

function answer(res: { status: number; headers: Record<string, string | string[] | undefined>; body: string }): FlowResponse {
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
  let body: unknown = res.body;
  if (/\bjson\b/i.test(headers['content-type'] ?? '') && res.body !== '') {
    try {
      body = JSON.parse(res.body);
    } catch {
      // Said JSON, is not: the text as it came.
    }
  }
  return { status: res.status, headers, body };
}

/**
 * An http_request node's call, through the automation's outbound path (SSRF guard, pinned address, no
 * redirect, bounded body): 2xx gives the response; 5xx and timeouts throw a retryable error, other
 * statuses a final one. `key` goes as X-ObjectOS-Idempotency-Key: the same step sends the same key.
 */
export async function callHttp(n: HttpNode, vars: Variables, key: string, deps: OutboundDeps): Promise<FlowResponse> {
  const c = n.config;
  const headers = Object.fromEntries(Object.entries(c.headers).map(([k, v]) => [k, text(resolveFlowValue(v, vars))]));
  const body = c.body === undefined ? '' : typeof c.body === 'string' ? text(resolveFlowValue(c.body, vars)) : JSON.stringify(resolveFlowValue(c.body, vars));
  return answer(await sendOutbound({ url: renderUrl(c.url, vars), method: c.method, headers, body, timeoutMs: c.timeoutMs }, key, deps.allow));
}

/** A connector_action node's call: the same request a rule's connector_action sends for this input. */
export async function callConnector(n: ConnectorNode, vars: Variables, key: string, deps: OutboundDeps): Promise<FlowResponse> {
  const { connectorId, actionId, input } = n.connectorConfig;
  const connector = deps.model.connectors.find((c) => c.name === connectorId);
  if (!connector) throw new Error(`connector ${connectorId} is no longer in the metadata`);
  const values = resolveFlowValue(input, vars) as Record<string, unknown>;
  return answer(await sendOutbound(connectorRequest(connector, actionId, values, {}, deps.env), key, deps.allow));
}
