import crypto from 'node:crypto';
import { run } from '../lib/proc.js';

/** Hand-made smart-HTTP request bodies, for what a real git client would never send. */

export const ZERO_SHA = '0'.repeat(40);

export function pktLine(text: string): string {
  return (Buffer.byteLength(text) + 4).toString(16).padStart(4, '0') + text;
}

/** A pack with no objects: enough for ref updates that point at commits the server already has. */
export function emptyPack(): Buffer {
  const head = Buffer.from([0x50, 0x41, 0x43, 0x4b, 0, 0, 0, 2, 0, 0, 0, 0]);
  return Buffer.concat([head, crypto.createHash('sha1').update(head).digest()]);
}

/** A receive-pack request body: one command, then the pack (none for a deletion, as git sends it). */
export function refUpdate(oldSha: string, newSha: string, ref: string, pack: Buffer | undefined = newSha === ZERO_SHA ? undefined : emptyPack()): Buffer {
  const caps = newSha === ZERO_SHA ? 'report-status delete-refs' : 'report-status';
  return Buffer.concat([Buffer.from(pktLine(`${oldSha} ${newSha} ${ref}\0${caps}\n`) + '0000'), pack ?? Buffer.alloc(0)]);
}

/** git refused in its own protocol: a 200 whose first packet is "ERR ...". */
export function gitSaysError(body: Buffer): boolean {
  return body.subarray(4, 8).toString('latin1') === 'ERR ';
}

/** Every ref of a bare repo and the object it names. */
export async function refsOf(repoPath: string, env: NodeJS.ProcessEnv): Promise<Map<string, string>> {
  const out = await run('git', ['for-each-ref', '--format=%(refname) %(objectname)'], { cwd: repoPath, env });
  return new Map(
    out.stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => line.split(' ') as [string, string]),
  );
}

/** The refs that differ between two snapshots, as "ref: before → after". */
export function refChanges(before: Map<string, string>, after: Map<string, string>): string[] {
  const names = new Set([...before.keys(), ...after.keys()]);
  return [...names]
    .filter((n) => before.get(n) !== after.get(n))
    .map((n) => `${n}: ${before.get(n)?.slice(0, 8) ?? 'none'} → ${after.get(n)?.slice(0, 8) ?? 'none'}`);
}

/** Puts refs back as they were, so the next tier meets the same repo. */
export async function restoreRefs(repoPath: string, before: Map<string, string>, after: Map<string, string>, env: NodeJS.ProcessEnv): Promise<void> {
  for (const name of new Set([...before.keys(), ...after.keys()])) {
    const was = before.get(name);
    if (was === after.get(name)) continue;
    await run('git', was ? ['update-ref', name, was] : ['update-ref', '-d', name], { cwd: repoPath, env });
  }
}
