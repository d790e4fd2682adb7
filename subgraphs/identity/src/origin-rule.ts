/**
 * One origin rule for better-auth, whether identity runs in the gateway's process or behind HTTP:
 * a request without cookies and without an Origin (curl, a server, a script) is accepted; one that
 * carries an Origin (or, lacking it, a Referer) must name a trusted origin; one that carries cookies
 * must name a trusted origin.
 *
 * Why it is needed: better-auth's sign-in/sign-up CSRF check treats any Fetch Metadata header
 * (`Sec-Fetch-*`) as "a browser sent this" and then demands an Origin. Node's fetch adds
 * `sec-fetch-mode: cors` to every request it sends, so in services mode the gateway's own hop to the
 * identity process made a curl sign-in look like an Origin-less browser request (403
 * MISSING_OR_NULL_ORIGIN), while the same request in process was accepted. Browsers always send an
 * Origin with a POST, so without Origin, Referer and cookies the Fetch Metadata headers carry nothing
 * a check can use, whoever added them: they are dropped, and every mode sees the same request.
 */
export async function withOriginRule(request: Request): Promise<Request> {
  const h = request.headers;
  if (h.has('origin') || h.has('referer') || h.has('cookie')) return request;
  const fetchMetadata = [...h.keys()].filter((k) => k.startsWith('sec-fetch-'));
  if (fetchMetadata.length === 0) return request;
  const headers = new Headers(h);
  for (const k of fetchMetadata) headers.delete(k);
  // Buffered (the gateway bounds auth bodies): a streamed body cannot be re-wrapped without `duplex`.
  const body = request.method === 'GET' || request.method === 'HEAD' ? null : await request.arrayBuffer();
  return new Request(request.url, { method: request.method, headers, ...(body ? { body } : {}), redirect: request.redirect });
}

/**
 * Configured origins as URL origins (`https://app.example.com/` and `https://app.example.com` are one),
 * so the gateway's CORS and better-auth's origin checks compare the same spelling. A malformed entry is
 * a configuration error naming the variable.
 */
export function originsOf(entries: readonly string[], variable: string): string[] {
  return entries.map((entry) => {
    try {
      const origin = new URL(entry).origin;
      if (origin === 'null') throw new Error('opaque origin');
      return origin;
    } catch {
      throw new Error(`${variable} entries are origins such as https://app.example.com, got "${entry}"`);
    }
  });
}
