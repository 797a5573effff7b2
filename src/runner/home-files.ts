import fs from 'node:fs';
import path from 'node:path';

// Reading and writing under a job's HOME, which the job wrote: nothing is followed through a link.

/**
 * `home/rel`, when every folder on the way from `home` is a real folder (not a link), else
 * undefined. With `make`, missing folders on the way are made (the last part is not).
 */
export function insideHome(home: string, rel: string, make = false): string | undefined {
  if (path.isAbsolute(rel)) return undefined;
  const parts = path.normalize(rel).split(path.sep);
  if (parts.some((p) => p === '..' || p === '')) return undefined;
  let at = home;
  for (const part of parts.slice(0, -1)) {
    at = path.join(at, part);
    const st = fs.lstatSync(at, { throwIfNoEntry: false });
    if (!st && make) fs.mkdirSync(at, { mode: 0o700 });
    else if (!st?.isDirectory()) return undefined;
  }
  return path.join(at, parts.at(-1)!);
}

/** A regular file's content (no link, no pipe), at most `size` bytes; undefined when it is not one any more. */
export function readRegularFile(file: string, size: number): Buffer | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch {
    return undefined;
  }
  try {
    if (!fs.fstatSync(fd).isFile()) return undefined;
    const buf = Buffer.alloc(size);
    let read = 0;
    while (read < size) {
      const n = fs.readSync(fd, buf, read, size - read, read);
      if (n === 0) break;
      read += n;
    }
    return buf.subarray(0, read);
  } finally {
    fs.closeSync(fd);
  }
}
