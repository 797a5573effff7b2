// Session archives as a hostile uploader would make them, for the tests of the runner's unpacking.
import zlib from 'node:zlib';
import * as tar from 'tar-stream';

/** A gzipped tar of these entries, as a hostile uploader would make it. */
export async function tarball(entries: { name: string; type?: tar.Headers['type']; content?: string; linkname?: string; size?: number }[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const gz = pack.pipe(zlib.createGzip());
  gz.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise((resolve) => gz.on('end', resolve));
  for (const e of entries) {
    const content = e.content ?? '';
    await new Promise<void>((resolve) =>
      pack.entry({ name: e.name, type: e.type ?? 'file', linkname: e.linkname ?? null, size: e.type && e.type !== 'file' ? 0 : content.length }, content, () =>
        resolve(),
      ),
    );
  }
  pack.finalize();
  await ended;
  return Buffer.concat(chunks);
}
