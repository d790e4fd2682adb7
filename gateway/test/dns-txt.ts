import { createSocket } from 'node:dgram';
import dns from 'node:dns';
import { syncBuiltinESMExports } from 'node:module';

/**
 * A DNS server on loopback (UDP) answering TXT questions from a table the test fills, NXDOMAIN for
 * anything else; this process's resolver is pointed at it while it runs. What SSO domain verification
 * looks up (`_better-auth-token-<providerId>.<domain>`) is answered as a domain owner's DNS would.
 */
export interface TxtDns {
  /** Sets (or, with no values, removes) the TXT records of a name. */
  set(name: string, values: string[]): void;
  /** The questions asked so far (name, in lower case). */
  asked: string[];
  close(): Promise<void>;
}

const encodeTxt = (value: string): Buffer => {
  const parts: Buffer[] = [];
  const bytes = Buffer.from(value, 'utf8');
  for (let i = 0; i < bytes.length || i === 0; i += 255) {
    const chunk = bytes.subarray(i, i + 255);
    parts.push(Buffer.from([chunk.length]), chunk);
  }
  return Buffer.concat(parts);
};

export async function startTxtDns(): Promise<TxtDns> {
  const records = new Map<string, string[]>();
  const asked: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (query, from) => {
    if (query.length < 12) return;
    // The question: labels, then type and class.
    let at = 12;
    const labels: string[] = [];
    while (at < query.length && query[at] !== 0) {
      const len = query[at]!;
      labels.push(query.subarray(at + 1, at + 1 + len).toString('utf8'));
      at += 1 + len;
    }
    const questionEnd = at + 5;
    const type = query.readUInt16BE(at + 1);
    const name = labels.join('.').toLowerCase();
    asked.push(name);
    const values = type === 16 ? (records.get(name) ?? []) : [];
    const header = Buffer.alloc(12);
    query.copy(header, 0, 0, 2);
    // Response, authoritative, recursion desired copied / available; NXDOMAIN when the name has no records.
    header.writeUInt16BE(0x8400 | (query.readUInt16BE(2) & 0x0100) | 0x0080 | (records.has(name) ? 0 : 3), 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(values.length, 6);
    const answers = values.map((v) => {
      const rdata = encodeTxt(v);
      const rr = Buffer.alloc(12);
      rr.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's
      rr.writeUInt16BE(16, 2);
      rr.writeUInt16BE(1, 4);
      rr.writeUInt32BE(0, 6);
      rr.writeUInt16BE(rdata.length, 10);
      return Buffer.concat([rr, rdata]);
    });
    socket.send(Buffer.concat([header, query.subarray(12, questionEnd), ...answers]), from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  const before = { callback: dns.getServers(), promises: dns.promises.getServers() };
  dns.setServers([`127.0.0.1:${port}`]);
  dns.promises.setServers([`127.0.0.1:${port}`]);
  // An ES module that imported node:dns/promises earlier holds the old resolver's functions until synced.
  syncBuiltinESMExports();
  return {
    set(name, values) {
      if (values.length === 0) records.delete(name.toLowerCase());
      else records.set(name.toLowerCase(), values);
    },
    asked,
    async close() {
      dns.setServers(before.callback);
      dns.promises.setServers(before.promises);
      syncBuiltinESMExports();
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    },
  };
}

/**
 * An organization admin proving an SSO provider's domains, as a domain owner would: asks ObjectOS for the
 * token, publishes `_objectos-sso-<providerId>.<domain>` TXT records, asks ObjectOS to check them.
 */
export async function proveSsoDomains(dnsServer: TxtDns, base: string, bearer: string, providerId: string, domains: string[]): Promise<void> {
  const call = (path: string) => fetch(`${base}/api/auth/sso/${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify({ providerId }) });
  const asked = await call('request-domain-verification');
  if (asked.status !== 201) throw new Error(`request-domain-verification ${providerId}: ${asked.status} ${await asked.text()}`);
  const { domainVerificationToken } = (await asked.json()) as { domainVerificationToken: string };
  for (const d of domains) dnsServer.set(`_objectos-sso-${providerId}.${d}`, [`_objectos-sso-${providerId}=${domainVerificationToken}`]);
  const verified = await call('verify-domain');
  if (verified.status !== 204) throw new Error(`verify-domain ${providerId}: ${verified.status} ${await verified.text()}`);
}
