import fs from 'node:fs';

/** The entry itself (a link is not followed), or undefined when there is none to see. */
export function lstat(p: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(p);
  } catch {
    return undefined;
  }
}
