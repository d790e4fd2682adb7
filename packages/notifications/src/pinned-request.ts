import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { deliveryError, type Channel } from './errors.ts';
import type { CheckedTarget } from './ssrf.ts';

/** A receiver's answer; the body is cut at `MAX_RESPONSE_BYTES`. */
export interface PinnedResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const MAX_RESPONSE_BYTES = 64 * 1024;

/**
 * Sends a request (POST unless `method` says otherwise) to a target that passed `checkTarget`, connecting only to its checked address (the
 * `lookup` answers with it; no agent, so no pooled socket to another address), following no
 * redirect. Network failures and the deadline (`timeoutMs`, for the whole exchange) reject with
 * the channel's retryable delivery error.
 */
export function postPinned(
  channel: Channel,
  target: CheckedTarget,
  request: { method?: string; headers: Record<string, string | number>; body: Buffer | string; timeoutMs: number },
): Promise<PinnedResponse> {
  const pinned: LookupFunction = (_hostname, options, callback) => {
    if (options.all) callback(null, [{ address: target.address, family: target.family }]);
    else callback(null, target.address, target.family);
  };
  const { url } = target;
  const send = url.protocol === 'https:' ? https.request : http.request;
  return new Promise<PinnedResponse>((resolve, reject) => {
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      fn();
    };
    const req = send(
      {
        protocol: url.protocol,
        hostname: target.hostname,
        port: url.port || undefined,
        path: `${url.pathname}${url.search}`,
        method: request.method ?? 'POST',
        headers: { ...request.headers, 'Content-Length': Buffer.byteLength(request.body) },
        lookup: pinned,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_RESPONSE_BYTES) chunks.push(c);
          size += c.length;
        });
        res.on('end', () =>
          finish(() => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).subarray(0, MAX_RESPONSE_BYTES).toString('utf8') })),
        );
        res.on('error', (e) => finish(() => reject(deliveryError(channel, 'DELIVERY_FAILED', `${url.origin} broke off its answer: ${e.message}`, { retryable: true, cause: e }))));
      },
    );
    const timer = setTimeout(() => {
      finish(() => reject(deliveryError(channel, 'TIMEOUT', `${url.origin} did not answer within ${request.timeoutMs} ms`, { retryable: true })));
      req.destroy();
    }, request.timeoutMs);
    req.on('error', (e) => finish(() => reject(deliveryError(channel, 'DELIVERY_FAILED', `could not deliver to ${url.origin}: ${e.message}`, { retryable: true, cause: e }))));
    req.end(request.body);
  });
}
