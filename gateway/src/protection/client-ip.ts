import { isIPv4, isIPv6 } from 'node:net';

/** Expands an IPv6 address to its eight hextets. */
function hextets(ip: string): string[] {
  const [head = '', tail = ''] = ip.split('::', 2);
  const a = head ? head.split(':') : [];
  const b = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const missing = 8 - a.length - b.length;
  return [...a, ...Array<string>(Math.max(missing, 0)).fill('0'), ...b].map((h) => h.padStart(4, '0').toLowerCase());
}

/**
 * The rate-limit key of a client address: IPv4 as is, IPv6 grouped by its /64 (one host can rotate
 * through a whole /64), IPv4-mapped IPv6 as IPv4.
 */
export function ipKey(address: string | undefined): string {
  if (!address) return 'ip:unknown';
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) return `ip:${mapped[1]}`;
  if (isIPv4(address)) return `ip:${address}`;
  if (isIPv6(address.split('%')[0]!)) return `ip6:${hextets(address.split('%')[0]!).slice(0, 4).join(':')}::/64`;
  return 'ip:unknown';
}

/** The client address: the socket peer, or the first X-Forwarded-For hop when the proxy is trusted. */
export function clientAddress(request: Request, serverContext: unknown, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const forwarded = request.headers.get('x-forwarded-for')?.split(',')[0]?.trim();
    if (forwarded) return forwarded;
  }
  const req = (serverContext as { req?: { socket?: { remoteAddress?: string } } } | undefined)?.req;
  return req?.socket?.remoteAddress;
}
