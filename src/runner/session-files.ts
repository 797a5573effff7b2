import fs from 'node:fs';
import path from 'node:path';
import { Readable, Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import * as tar from 'tar-stream';
import { MAX_SESSION_BYTES } from '../shared/protocol-routes.js';
import { insideHome, readRegularFile } from './home-files.js';

/**
 * An agent's session files travel between runners as a gzipped tar. Both ends distrust them: the
 * job wrote the files (it could have put a link to /etc/shadow where its conversation was), and
 * whoever held a job token could have uploaded any tarball. Packing takes only regular files and
 * folders under the job's HOME, never through a link; unpacking takes only files and folders with
 * plain relative names, into a fresh folder, within the caps, before anything of the job runs.
 *
 * Entry names are positional: `<i>/<path>` for what lies under the adapter's i-th session path.
 * The paths depend on the workspace (Claude Code files a conversation under its working
 * directory), which differs between runners, so the restoring runner puts entry `<i>` wherever
 * its own i-th session path is.
 */
export interface SessionLimits {
  /** The most bytes of the gzipped tar. */
  compressedBytes: number;
  /** The most bytes of file content, all files together. */
  bytes: number;
  files: number;
}

export const SESSION_LIMITS: SessionLimits = { compressedBytes: MAX_SESSION_BYTES, bytes: 256 * 1024 * 1024, files: 5000 };

/** A session archive that is not taken; the message is one line for the job's log. */
export class SessionArchiveError extends Error {}

export type Packed = { archive: Buffer; files: number; bytes: number } | { skipped: string };

interface Found {
  name: string;
  file: string;
  size: number;
}

/** Packs what lies at `paths` (relative to `home`) into a gzipped tar, or says why not. */
export async function packSession(home: string, paths: readonly string[], limits: SessionLimits = SESSION_LIMITS): Promise<Packed> {
  const found: Found[] = [];
  paths.forEach((rel, i) => {
    const start = insideHome(home, rel);
    if (start) collect(start, String(i), found, limits.files + 1);
  });
  if (found.length === 0) return { skipped: 'the agent left no session files' };
  if (found.length > limits.files) return { skipped: `more than ${limits.files} session files` };
  const total = found.reduce((n, f) => n + f.size, 0);
  if (total > limits.bytes) return { skipped: `${mib(total)} of session files, more than ${mib(limits.bytes)}` };

  const pack = tar.pack();
  const chunks: Buffer[] = [];
  let compressed = 0;
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      compressed += chunk.length;
      if (compressed > limits.compressedBytes) return done(new SessionArchiveError(`more than ${mib(limits.compressedBytes)} compressed`));
      chunks.push(chunk);
      done();
    },
  });
  const writing = pipeline(pack, zlib.createGzip(), sink);
  let files = 0;
  let bytes = 0;
  try {
    for (const f of found) {
      const content = readRegularFile(f.file, f.size);
      if (content === undefined) continue;
      await new Promise<void>((resolve, reject) =>
        pack.entry({ name: f.name, size: content.length, mode: 0o600, mtime: new Date(0), type: 'file' }, content, (err) => (err ? reject(err) : resolve())),
      );
      files++;
      bytes += content.length;
    }
    pack.finalize();
    await writing;
  } catch (err) {
    pack.destroy();
    await writing.catch(() => {});
    if (err instanceof SessionArchiveError) return { skipped: `the session files are ${err.message}` };
    throw err;
  }
  return { archive: Buffer.concat(chunks), files, bytes };
}

/**
 * Unpacks a session archive into `staging` (a folder that must not exist yet), refusing it whole
 * at the first entry that is not a plain file or folder with a clean relative name (a link, a
 * device, an absolute path, `..`), or once it holds more than the caps.
 */
export async function unpackSession(
  archive: Buffer,
  staging: string,
  slots: number,
  limits: SessionLimits = SESSION_LIMITS,
): Promise<{ files: number; bytes: number }> {
  if (archive.length > limits.compressedBytes) throw new SessionArchiveError(`the archive is larger than ${mib(limits.compressedBytes)}`);
  fs.mkdirSync(staging, { mode: 0o700 });
  let files = 0;
  let bytes = 0;
  // Headers and padding come on top of the content: a tar that unzips to far more is a bomb.
  let unzipped = 0;
  const unzipCap = limits.bytes + (limits.files + 16) * 2048;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      unzipped += chunk.length;
      if (unzipped > unzipCap) return done(new SessionArchiveError(`it unpacks to more than ${mib(unzipCap)}`));
      done(null, chunk);
    },
  });
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const fail = (why: string) => {
      stream.resume();
      next(new SessionArchiveError(why));
    };
    const parts = entryParts(header.name, slots);
    if (!parts) return fail(`an entry with a name that is not allowed: ${JSON.stringify(header.name.slice(0, 200))}`);
    const target = path.join(staging, ...parts);
    // A name that was a file before and is a folder now (or the other way round) cannot be made.
    const made = (dir: string): boolean => {
      try {
        fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
        return true;
      } catch {
        return false;
      }
    };
    if (header.type === 'directory') {
      if (!made(target)) return fail(`cannot make the folder ${parts.join('/')}`);
      stream.resume();
      return next();
    }
    if (header.type !== 'file') return fail(`an entry that is not a file or a folder (${header.type ?? '?'}): ${JSON.stringify(header.name.slice(0, 200))}`);
    if (++files > limits.files) return fail(`more than ${limits.files} files`);
    const size = header.size ?? 0;
    if (bytes + size > limits.bytes) return fail(`more than ${mib(limits.bytes)} of files`);
    bytes += size;
    if (!made(path.dirname(target))) return fail(`cannot make the folder of ${parts.join('/')}`);
    // O_EXCL: a name given twice does not overwrite (nor follow) what the first one made.
    let fd: number;
    try {
      fd = fs.openSync(target, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      return fail(`cannot write ${parts.join('/')}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
    }
    const out = fs.createWriteStream('', { fd });
    pipeline(stream, out).then(
      () => next(),
      (err: Error) => next(new SessionArchiveError(`cannot write ${parts.join('/')}: ${err.message}`)),
    );
  });
  try {
    await pipeline(Readable.from([archive]), zlib.createGunzip(), counter, extract);
  } catch (err) {
    if (err instanceof SessionArchiveError) throw err;
    throw new SessionArchiveError(`not a readable gzipped tar: ${(err as Error).message.split('\n')[0]}`);
  }
  return { files, bytes };
}

/**
 * Moves what `unpackSession` left in `staging` to the adapter's session paths under `home` (entry
 * `<i>` to `paths[i]`), replacing what is there; a folder on the way that is not a folder (a link)
 * stops it.
 */
export function placeSession(staging: string, home: string, paths: readonly string[]): void {
  paths.forEach((rel, i) => {
    const from = path.join(staging, String(i));
    if (!fs.existsSync(from)) return;
    const to = insideHome(home, rel, true);
    if (!to) throw new SessionArchiveError(`~/${rel} cannot take the session files (a link or a file is on the way)`);
    fs.rmSync(to, { recursive: true, force: true });
    fs.renameSync(from, to);
  });
}

/** The parts of an entry's name, `<slot>/<clean relative path>`, or undefined when it is not one. */
function entryParts(name: string, slots: number): string[] | undefined {
  const parts = name.replace(/\/+$/, '').split('/');
  if (parts.length > 64 || parts.some((p) => p === '' || p === '.' || p === '..' || p.length > 255 || p.includes('\0'))) return undefined;
  const slot = parts[0]!;
  if (!/^\d{1,3}$/.test(slot) || Number(slot) >= slots) return undefined;
  return parts;
}

/** Regular files under `file` (itself one, or a folder), never through a link; stops past `max`. */
function collect(file: string, name: string, into: Found[], max: number): void {
  if (into.length >= max) return;
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (st?.isFile()) into.push({ name, file, size: st.size });
  else if (st?.isDirectory())
    for (const entry of fs.readdirSync(file).sort()) if (entryParts(`0/${entry}`, 1)) collect(path.join(file, entry), `${name}/${entry}`, into, max);
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
