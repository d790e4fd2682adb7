import { describe, expect, it } from 'vitest';
import { checkTarget, classifyAddress, NotificationInputError, type Resolver } from '../src/index.ts';

const fixed = (map: Record<string, string[]>): Resolver => async (host) => {
  const list = map[host];
  if (!list) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

async function refusal(p: Promise<unknown>): Promise<NotificationInputError> {
  const e = await p.then(() => undefined, (err: unknown) => err);
  expect(e).toBeInstanceOf(NotificationInputError);
  return e as NotificationInputError;
}

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'], ['127.255.0.9', 'loopback'], ['::1', 'loopback'],
    ['10.0.0.1', 'private'], ['172.16.0.1', 'private'], ['172.31.255.255', 'private'], ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'], ['100.127.255.255', 'private'], ['fc00::1', 'private'], ['fd12:3456::1', 'private'],
    ['169.254.169.254', 'link_local'], ['fe80::1', 'link_local'], ['febf::1', 'link_local'],
    ['0.0.0.0', 'unspecified'], ['0.1.2.3', 'unspecified'], ['::', 'unspecified'],
    ['::ffff:127.0.0.1', 'loopback'], ['::ffff:7f00:1', 'loopback'], ['::ffff:10.1.2.3', 'private'], ['::ffff:169.254.169.254', 'link_local'],
    ['::ffff:0.0.0.0', 'unspecified'], ['64:ff9b::a00:1', 'reserved'], ['::10.0.0.1', 'reserved'], ['224.0.0.1', 'reserved'], ['ff02::1', 'reserved'],
    ['8.8.8.8', 'public'], ['172.32.0.1', 'public'], ['100.128.0.1', 'public'], ['2606:4700::1111', 'public'], ['::ffff:8.8.8.8', 'public'],
  ])('%s is %s', (address, cls) => {
    expect(classifyAddress(address)).toBe(cls);
  });
});

describe('checkTarget', () => {
  const resolve = fixed({ 'hooks.example.com': ['93.184.216.34'], 'rebind.example.com': ['93.184.216.34', '10.0.0.7'], 'internal.corp': ['10.1.2.3'] });

  it('returns the checked address of a public host', async () => {
    const t = await checkTarget('https://hooks.example.com/in?x=1', {}, resolve);
    expect(t).toMatchObject({ hostname: 'hooks.example.com', address: '93.184.216.34', family: 4 });
    expect(t.url.pathname).toBe('/in');
  });

  it.each([
    ['http://127.0.0.1:8080/', 'is a loopback address (allow.loopback permits it)'],
    ['http://[::1]/', 'is a loopback address'],
    ['http://10.0.0.1/', 'is a private-network address'],
    ['http://169.254.169.254/latest/meta-data/', 'is a link-local address, where cloud metadata services live; never allowed'],
    ['http://[::ffff:169.254.169.254]/', 'link-local'],
    ['http://0.0.0.0/', 'is an unspecified address'],
    ['http://2130706433/', 'is a loopback address'], // 127.0.0.1 as one number (WHATWG URL parses it)
    ['http://rebind.example.com/', 'resolves to 10.0.0.7, a private-network address'],
    ['ftp://hooks.example.com/', 'ftp: URLs cannot be targets'],
    ['file:///etc/passwd', 'file: URLs cannot be targets'],
    ['https://user:pw@hooks.example.com/', 'cannot carry credentials'],
    ['not a url', 'is not a URL'],
    ['http://nowhere.invalid/', 'nowhere.invalid does not resolve'],
  ])('refuses %s', async (url, why) => {
    const e = await refusal(checkTarget(url, {}, resolve));
    expect(e.code).toBe('FORBIDDEN_TARGET');
    expect(e.message).toContain(why);
  });

  it('refuses http://localhost through the system resolver', async () => {
    const e = await refusal(checkTarget('http://localhost:1/'));
    expect(e.code).toBe('FORBIDDEN_TARGET');
    expect(e.message).toMatch(/resolves to (127\.0\.0\.1|::1), a loopback address/);
  });

  it('lets allowances through, but never link-local or unspecified', async () => {
    await expect(checkTarget('http://127.0.0.1/', { loopback: true })).resolves.toMatchObject({ address: '127.0.0.1' });
    await expect(checkTarget('http://[::1]:9/', { loopback: true })).resolves.toMatchObject({ hostname: '::1', family: 6 });
    await expect(checkTarget('http://10.0.0.1/', { privateNetworks: true })).resolves.toMatchObject({ address: '10.0.0.1' });
    await expect(checkTarget('http://internal.corp/', { hosts: ['INTERNAL.corp'] }, resolve)).resolves.toMatchObject({ address: '10.1.2.3' });
    expect((await refusal(checkTarget('http://10.0.0.1/', { loopback: true }))).code).toBe('FORBIDDEN_TARGET');
    expect((await refusal(checkTarget('http://169.254.169.254/', { loopback: true, privateNetworks: true }))).code).toBe('FORBIDDEN_TARGET');
    expect((await refusal(checkTarget('http://0.0.0.0/', { loopback: true, privateNetworks: true }))).code).toBe('FORBIDDEN_TARGET');
  });
});
