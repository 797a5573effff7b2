import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * The web UI's files (Vite's build in dist/web): the page for every path of the UI, its hashed
 * assets with a long cache, and the few other files the build puts beside the page.
 */

/** The page may load only this server's own scripts and styles, and no other page may frame it. */
const PAGE_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-frame-options': 'DENY',
  'cache-control': 'no-cache',
};
const FILE_HEADERS = { 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
/** Vite names assets by their content: a name never changes what it holds. */
const IMMUTABLE = 'public, max-age=31536000, immutable';

/** A file name as the build makes them: no path, no leading dot, no encoding. Everything else is refused before a path is joined. */
export const WEB_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
/** Paths whose unknown names stay JSON 404s: the API, git, the API docs, the assets. */
const NOT_PAGES = /^\/(?:api|git|docs|assets)(?:[/?#]|$)/;

const TYPES = new Map([
  ['.js', 'text/javascript; charset=utf-8'],
  ['.mjs', 'text/javascript; charset=utf-8'],
  ['.css', 'text/css; charset=utf-8'],
  ['.html', 'text/html; charset=utf-8'],
  ['.json', 'application/json'],
  ['.map', 'application/json'],
  ['.txt', 'text/plain; charset=utf-8'],
  ['.svg', 'image/svg+xml'],
  ['.png', 'image/png'],
  ['.jpg', 'image/jpeg'],
  ['.webp', 'image/webp'],
  ['.ico', 'image/x-icon'],
  ['.woff', 'font/woff'],
  ['.woff2', 'font/woff2'],
]);
const COMPRESSIBLE = new Set(['.js', '.mjs', '.css', '.html', '.json', '.map', '.txt', '.svg']);

/** Assets kept in memory with their compressed forms; a build has a handful, so this only bounds a rebuild-heavy day. */
const MAX_CACHED = 64;
/** The UI's files are KBs; anything past this is not the build's and is not served. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

const gzip = promisify(zlib.gzip);
const brotli = promisify(zlib.brotliCompress);

interface CachedAsset {
  raw: Buffer;
  gzip?: Promise<Buffer>;
  br?: Promise<Buffer>;
}

export class WebUi {
  private readonly cache = new Map<string, CachedAsset>();

  constructor(readonly dir: string) {}

  /** The UI's page (any of its paths: the page routes in the browser), or a 503 while the UI is not built. */
  async page(reply: FastifyReply): Promise<FastifyReply> {
    let html: Buffer;
    try {
      html = await fs.promises.readFile(path.join(this.dir, 'index.html'));
    } catch {
      return reply.code(503).headers(FILE_HEADERS).type('text/plain; charset=utf-8').send('the web UI is not built: run npm run build\n');
    }
    return reply
      .code(200)
      .headers({ ...FILE_HEADERS, ...PAGE_HEADERS })
      .type('text/html; charset=utf-8')
      .send(html);
  }

  /** `/assets/<name>`: a hashed asset, cached for a year, compressed when the client takes it. */
  async asset(name: string, req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const ext = path.extname(name).toLowerCase();
    const type = TYPES.get(ext);
    const file = type && WEB_FILE_NAME.test(name) ? path.join(this.dir, 'assets', name) : undefined;
    const cached = file && (this.cache.get(name) ?? (await this.load(name, file)));
    if (!type || !cached) {
      reply.callNotFound();
      return reply;
    }
    reply.headers({ ...FILE_HEADERS, 'cache-control': IMMUTABLE }).type(type);
    if (!COMPRESSIBLE.has(ext) || cached.raw.length < 1024) return reply.send(cached.raw);
    reply.header('vary', 'Accept-Encoding');
    const accepts = req.headers['accept-encoding'];
    if (acceptsCoding(accepts, 'br')) {
      // Quality 5, not the maximum 11: the UI's 44 KB script compresses in 3 ms instead of 130 ms (idle) and
      // only 8% larger (16.3 KB against 15.1 KB), so the first page after a start does not wait for it.
      cached.br ??= brotli(cached.raw, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5 } });
      return reply.header('content-encoding', 'br').send(await cached.br);
    }
    if (acceptsCoding(accepts, 'gzip')) {
      cached.gzip ??= gzip(cached.raw, { level: 9 });
      return reply.header('content-encoding', 'gzip').send(await cached.gzip);
    }
    return reply.send(cached.raw);
  }

  /**
   * A request no route answers, if it is the UI's: a file the build put beside the page (an icon),
   * or the page for a GET that asks for HTML outside the API, git, the docs and the assets.
   * Returns false for everything else (the JSON 404).
   */
  async fallback(req: FastifyRequest, reply: FastifyReply): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const urlPath = req.url.split('?')[0]!;
    const name = urlPath.slice(1);
    const type = TYPES.get(path.extname(name).toLowerCase());
    if (type && WEB_FILE_NAME.test(name) && name !== 'index.html') {
      const body = await readFileIfAny(path.join(this.dir, name));
      if (body) {
        await reply
          .headers({ ...FILE_HEADERS, 'cache-control': 'no-cache' })
          .type(type)
          .send(body);
        return true;
      }
    }
    if (NOT_PAGES.test(urlPath) || !(req.headers.accept ?? '').includes('text/html')) return false;
    await this.page(reply);
    return true;
  }

  private async load(name: string, file: string): Promise<CachedAsset | undefined> {
    const raw = await readFileIfAny(file, MAX_FILE_BYTES);
    if (!raw) return undefined;
    if (this.cache.size >= MAX_CACHED) this.cache.delete(this.cache.keys().next().value!);
    const asset = { raw };
    this.cache.set(name, asset);
    return asset;
  }
}

/** A regular file's bytes, or undefined (missing, a directory, larger than `max`). */
async function readFileIfAny(file: string, max = MAX_FILE_BYTES): Promise<Buffer | undefined> {
  try {
    const stat = await fs.promises.stat(file);
    if (!stat.isFile() || stat.size > max) return undefined;
    return await fs.promises.readFile(file);
  } catch {
    return undefined;
  }
}

/** Whether an Accept-Encoding header takes a coding (named, and not with q=0). */
function acceptsCoding(header: string | string[] | undefined, coding: string): boolean {
  if (typeof header !== 'string') return false;
  for (const item of header.split(',')) {
    const [name, ...params] = item.split(';');
    if (name!.trim().toLowerCase() !== coding) continue;
    return !params.some((p) => /^\s*q\s*=\s*0(?:\.0*)?\s*$/i.test(p));
  }
  return false;
}
