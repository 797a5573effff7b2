import net from 'node:net';

/** `scheme://authority rest`: the authority is read from the raw text, since git sees the raw text too. */
const SCHEME_URL_RE = /^(https?|ssh|git|file):\/\/([^/?#]*)(.*)$/;
/** scp-like `[user@]host:path`, which git recognises by a colon before any slash; `x://` is a URL and `x::` a remote helper, never scp. */
const SCP_RE = /^(?:([^@/:[\]]+)@)?([^@/:[\]]+|\[[^\]/]*\]):(?!\/\/|:)(.+)$/;
const HOST_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?$/;
const USER_RE = /^[A-Za-z0-9._~+%-]+$/;

/**
 * A host git may hand to ssh or curl: a DNS name or IPv4 address (no percent-encoding, no
 * leading "-" or "."), or a bracketed IPv6 literal without a zone.
 */
function isSafeHost(host: string): boolean {
  if (host.startsWith('[') && host.endsWith(']')) return net.isIPv6(host.slice(1, -1));
  return host.length <= 253 && HOST_RE.test(host);
}

/** A user name that, decoded, cannot read as an ssh option or hide another `@`. */
function isSafeUser(user: string): boolean {
  if (!USER_RE.test(user)) return false;
  let decoded: string;
  try {
    decoded = decodeURIComponent(user);
  } catch {
    return false;
  }
  return !decoded.startsWith('-') && !/[\x00-\x20\x7f@]/.test(decoded);
}

function isSafeAuthority(scheme: string, authority: string): boolean {
  const at = authority.lastIndexOf('@');
  if (authority.indexOf('@') !== at) return false;
  const userinfo = at >= 0 ? authority.slice(0, at) : '';
  const hostPort = authority.slice(at + 1);
  const m = /^(\[[^\]]*\]|[^:]*)(?::(\d{0,5}))?$/.exec(hostPort);
  if (!m) return false;
  const host = m[1]!;
  const port = m[2] ? Number(m[2]) : undefined;
  if (port !== undefined && (port < 1 || port > 65535)) return false;
  if (at >= 0 && !isSafeUser(userinfo.split(':')[0]!)) return false;
  if (scheme === 'file') return (host === '' || host === 'localhost') && at < 0 && port === undefined;
  return isSafeHost(host);
}

/**
 * A URL git may push to: an http(s)://, ssh://, git:// or file:// URL, scp-like
 * `[user@]host:path`, or an absolute path. Every host, user and port is checked the way ssh
 * would read it: nothing may start with "-" (an ssh option such as -oProxyCommand), be
 * percent-encoded into one, or hide behind brackets; anything else (`ext::`, `fd::`, option-like
 * strings, whitespace, non-ASCII) is refused before it reaches git.
 */
export function isAllowedRemoteUrl(url: string): boolean {
  // Printable ASCII only: no whitespace, controls, or look-alike Unicode; no backslash, which URL parsers read as "/".
  if (url.length > 2048 || !/^[\x21-\x7e]+$/.test(url) || url.includes('\\')) return false;
  const scheme = SCHEME_URL_RE.exec(url);
  if (scheme) {
    if (!isSafeAuthority(scheme[1]!, scheme[2]!)) return false;
    // The WHATWG parser must agree that this is a URL (it checks IPv6 literals and ports again).
    return URL.canParse(url);
  }
  if (url.startsWith('/')) return true;
  const scp = SCP_RE.exec(url);
  if (!scp) return false;
  return (scp[1] === undefined || isSafeUser(scp[1])) && isSafeHost(scp[2]!);
}
