import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { NotificationDeliveryError, NotificationInputError } from './errors.ts';

/** What a channel may reach beyond the public internet (all off by default). */
export interface TargetAllowance {
  /** 127.0.0.0/8 and ::1 (tests, a receiver on the same machine). @default false */
  loopback?: boolean;
  /** 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7. @default false */
  privateNetworks?: boolean;
  /** Host names that may resolve to loopback or private addresses (an internal receiver). Link-local and unspecified addresses stay refused. */
  hosts?: readonly string[];
}

/** How an address is classed; only `public` is reachable without an allowance. */
export type AddressClass = 'public' | 'loopback' | 'private' | 'link_local' | 'unspecified' | 'reserved';

/** Resolves a host name to all its addresses (`dns.lookup` with `all: true` unless replaced). */
export type Resolver = (hostname: string) => Promise<ReadonlyArray<{ address: string; family: number }>>;

/** A target that passed the guard: connect to `address`, never re-resolve `hostname`. */
export interface CheckedTarget {
  url: URL;
  /** The host name without IPv6 brackets. */
  hostname: string;
  address: string;
  family: 4 | 6;
}

/** Ranges per class; IPv4-mapped IPv6 (`::ffff:10.0.0.1`) matches the IPv4 rows (BlockList does that). */
const RANGES: ReadonlyArray<[Exclude<AddressClass, 'public'>, string, number, 'ipv4' | 'ipv6']> = [
  ['unspecified', '0.0.0.0', 8, 'ipv4'],
  ['unspecified', '::', 128, 'ipv6'],
  ['loopback', '127.0.0.0', 8, 'ipv4'],
  ['loopback', '::1', 128, 'ipv6'],
  ['private', '10.0.0.0', 8, 'ipv4'],
  ['private', '172.16.0.0', 12, 'ipv4'],
  ['private', '192.168.0.0', 16, 'ipv4'],
  ['private', '100.64.0.0', 10, 'ipv4'],
  ['private', 'fc00::', 7, 'ipv6'],
  ['private', 'fec0::', 10, 'ipv6'],
  ['link_local', '169.254.0.0', 16, 'ipv4'],
  ['link_local', 'fe80::', 10, 'ipv6'],
  ['reserved', '192.0.0.0', 24, 'ipv4'],
  ['reserved', '198.18.0.0', 15, 'ipv4'],
  ['reserved', '224.0.0.0', 4, 'ipv4'],
  ['reserved', '240.0.0.0', 4, 'ipv4'],
  ['reserved', 'ff00::', 8, 'ipv6'],
  // NAT64 and IPv4-compatible forms embed an IPv4 address that could be private.
  ['reserved', '64:ff9b::', 96, 'ipv6'],
  ['reserved', '::', 96, 'ipv6'],
];

const LISTS = new Map<Exclude<AddressClass, 'public'>, BlockList>();
for (const [cls, net, prefix, type] of RANGES) {
  const list = LISTS.get(cls) ?? new BlockList();
  list.addSubnet(net, prefix, type);
  LISTS.set(cls, list);
}

/** The class of an IP address (first matching class in table order: unspecified, loopback, private, link-local, reserved). */
export function classifyAddress(address: string): AddressClass {
  const family = isIP(address);
  if (family === 0) throw new NotificationInputError('INVALID_INPUT', `"${address}" is not an IP address`);
  const type = family === 4 ? 'ipv4' : 'ipv6';
  for (const [cls, list] of LISTS) if (list.check(address, type)) return cls;
  return 'public';
}

const WHY: Record<Exclude<AddressClass, 'public'>, string> = {
  unspecified: 'an unspecified address; never allowed',
  loopback: 'a loopback address (allow.loopback permits it)',
  private: 'a private-network address (allow.privateNetworks or allow.hosts permits it)',
  link_local: 'a link-local address, where cloud metadata services live; never allowed',
  reserved: 'a reserved, multicast or address-embedding range; never allowed',
};

function permitted(cls: AddressClass, hostname: string, allow: TargetAllowance): boolean {
  if (cls === 'public') return true;
  const listed = allow.hosts?.some((h) => h.toLowerCase() === hostname) ?? false;
  if (cls === 'loopback') return Boolean(allow.loopback) || listed;
  if (cls === 'private') return Boolean(allow.privateNetworks) || listed;
  return false;
}

const systemResolver: Resolver = (hostname) => lookup(hostname, { all: true, verbatim: true });

/**
 * The SSRF guard: accepts only http(s) URLs whose host resolves, every address of it, to
 * addresses `allow` permits, and returns the address to connect to — connect there (pinned),
 * so a second DNS answer cannot swap in an internal address. Throws `FORBIDDEN_TARGET` naming
 * the address and why.
 */
export async function checkTarget(target: string | URL, allow: TargetAllowance = {}, resolve: Resolver = systemResolver): Promise<CheckedTarget> {
  let url: URL;
  try {
    url = new URL(target);
  } catch (e) {
    throw new NotificationInputError('FORBIDDEN_TARGET', `"${String(target)}" is not a URL`, { cause: e });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new NotificationInputError('FORBIDDEN_TARGET', `${url.protocol} URLs cannot be targets (only http: and https:): ${url.href}`);
  if (url.username || url.password) throw new NotificationInputError('FORBIDDEN_TARGET', `target URLs cannot carry credentials: ${url.origin}`);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1').toLowerCase();

  let addresses: ReadonlyArray<{ address: string; family: number }>;
  if (isIP(hostname)) addresses = [{ address: hostname, family: isIP(hostname) }];
  else
    try {
      addresses = await resolve(hostname);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // No such host will not appear by retrying soon; a failing resolver might recover.
      if (code === 'ENOTFOUND') throw new NotificationInputError('FORBIDDEN_TARGET', `${hostname} does not resolve (${url.origin})`, { cause: e });
      throw new NotificationDeliveryError('DELIVERY_FAILED', `could not resolve ${hostname}: ${(e as Error).message}`, { retryable: true, cause: e });
    }
  if (addresses.length === 0) throw new NotificationInputError('FORBIDDEN_TARGET', `${hostname} resolves to no address (${url.origin})`);
  // Every address must pass: a host that also resolves somewhere internal is refused outright.
  for (const { address } of addresses) {
    const cls = classifyAddress(address);
    if (!permitted(cls, hostname, allow))
      throw new NotificationInputError('FORBIDDEN_TARGET', `${url.origin} ${hostname === address ? 'is' : `resolves to ${address},`} ${WHY[cls as Exclude<AddressClass, 'public'>]}`);
  }
  const first = addresses[0]!;
  return { url, hostname, address: first.address, family: first.family === 6 ? 6 : 4 };
}
