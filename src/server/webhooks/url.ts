import { ApiError } from '../errors.js';

/**
 * A webhook's URL as given: http(s) only, with a host. Credentials in it (`https://user:pass@host/`)
 * are kept for sending, as a Basic `Authorization` header, and hidden whenever the URL is shown.
 */
export function checkWebhookUrl(raw: string): string {
  // Control characters and spaces would be rewritten by the parser: what is stored must be what was checked.
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) throw new ApiError(400, 'invalid url: it holds spaces or control characters');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ApiError(400, 'invalid url: it must be an http(s) URL such as https://hooks.example.com/lazyaf');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ApiError(400, `invalid url: only http and https are delivered to, not ${url.protocol.slice(0, 20)}`);
  if (!url.hostname) throw new ApiError(400, 'invalid url: it has no host');
  return raw;
}

/** The URL as shown: its credentials replaced by `***`. */
export function shownUrl(raw: string): string {
  try {
    const url = new URL(raw);
    if (!url.username && !url.password) return url.href;
    url.username = '***';
    url.password = '';
    return url.href;
  } catch {
    return '(invalid url)';
  }
}

/** Where to send and the `Authorization` its credentials make: fetch refuses a URL that holds them. */
export function requestTarget(raw: string): { url: string; authorization?: string } {
  const url = new URL(raw);
  if (!url.username && !url.password) return { url: url.href };
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  return { url: url.href, authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}
