// SSRF protection for webhook URLs: a URL whose host resolves to a loopback, private, link-local (cloud metadata
// included), CGNAT, multicast or otherwise special address is refused, unless WEBHOOK_ALLOW_PRIVATE=true. Checked
// when an admin sets the URL and again at every connection, on the address actually connected to (the HTTP client's
// `lookup` goes through here), so a DNS answer that changes after the check cannot slip past it. Redirects are never
// followed.
import { lookup } from "node:dns/promises";
import { BlockList, isIP, type LookupFunction } from "node:net";

const blocked = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // CGNAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, incl. 169.254.169.254 (cloud metadata)
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
  ["fd00:ec2::254", 128], // AWS metadata over IPv6 (inside fc00::/7 already; named for the reader)
] as const) {
  blocked.addSubnet(net, prefix, "ipv6");
}

/** True for an address a webhook must never reach. IPv4-mapped IPv6 (::ffff:a.b.c.d) is judged as its IPv4. */
export function isForbiddenAddress(address: string): boolean {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1];
  if (mapped) return blocked.check(mapped, "ipv4");
  const family = isIP(address);
  if (family === 0) return true;
  return blocked.check(address, family === 4 ? "ipv4" : "ipv6");
}

export class ForbiddenAddressError extends Error {}

/** Resolves the URL's host and refuses it when any address it resolves to is forbidden. */
export async function assertPublicUrl(url: URL, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  const addresses = isIP(host) ? [{ address: host }] : await lookup(host, { all: true });
  const bad = addresses.find((a) => isForbiddenAddress(a.address));
  if (bad) throw new ForbiddenAddressError(`${url.hostname} resolves to ${bad.address}, a private or reserved address`);
}

/** A `lookup` for http.request that refuses forbidden addresses at connection time. */
export function guardedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    lookup(hostname, { all: true, family: options.family as number | undefined })
      .then((addresses) => {
        const bad = allowPrivate ? undefined : addresses.find((a) => isForbiddenAddress(a.address));
        if (bad) throw new ForbiddenAddressError(`${hostname} resolves to ${bad.address}, a private or reserved address`);
        if (options.all) (callback as (e: null, a: typeof addresses) => void)(null, addresses);
        else callback(null, addresses[0]!.address, addresses[0]!.family);
      })
      .catch((err: NodeJS.ErrnoException) => callback(err, "", 0));
  };
}
