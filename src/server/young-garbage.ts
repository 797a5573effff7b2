import type { Readable } from 'node:stream';
import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Node's HTTP parser copies each piece of a request body into a Buffer of its own, malloc'd
 * outside V8's heap and freed only when V8 collects the Buffer. A pushed pack streamed into git
 * leaves its copies dead at once, but V8 counts them only as external memory and collects them
 * once about 32 MiB have piled up: measured on a 40 MiB push, the server's RSS grew by 33 MiB,
 * all of it glibc's heap holding those copies (process.memoryUsage().arrayBuffers rose to 32 MiB,
 * then fell to 1 MiB at the first collection), and glibc kept the pages after they were freed.
 * A young-generation collection (a scavenge, about 1 ms) every few MiB of body frees them while
 * they are few, so the same pages are used again. git's output read from its pipe is the same: a
 * fresh Buffer for each read, dead once written to the client (a 40 MiB clone grew RSS by 28 MiB).
 */

/** Bytes of body between two collections. */
export const COLLECT_EVERY_BYTES = 4 * 1024 * 1024;

type Collect = (options: { type: 'minor' }) => void;
let collect: Collect | null | undefined;

/** V8's own `gc`, made reachable once (what `--expose-gc` gives a new context); null when it cannot be had. */
function collector(): Collect | null {
  if (collect !== undefined) return collect;
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc = vm.runInNewContext('gc') as unknown;
    collect = typeof gc === 'function' ? (gc as Collect) : null;
  } catch {
    collect = null;
  }
  return collect;
}

/** Collects the young generation now (a scavenge): the dead Buffers of a streamed body go with it. */
export function collectYoungGarbage(): void {
  collector()?.({ type: 'minor' });
}

/** Returns a counter that collects the young generation after every `everyBytes` it is told of. */
export function youngCollector(everyBytes = COLLECT_EVERY_BYTES): (bytes: number) => void {
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < everyBytes) return;
    since = 0;
    collectYoungGarbage();
  };
}

/**
 * Collects the young generation after every `everyBytes` that flow through `stream`. Call it once
 * the stream is being consumed (a 'data' listener would otherwise start it flowing too early).
 */
export function collectWhileStreaming(stream: Readable, everyBytes = COLLECT_EVERY_BYTES): void {
  const passed = youngCollector(everyBytes);
  stream.on('data', (chunk: Buffer) => passed(chunk.length));
}

/** The same for a stream handed on whole: its pieces pass through, counted. */
export async function* collectingWhilePassing(source: AsyncIterable<Buffer>, everyBytes = COLLECT_EVERY_BYTES): AsyncGenerator<Buffer> {
  const passed = youngCollector(everyBytes);
  for await (const chunk of source) {
    passed(chunk.length);
    yield chunk;
  }
}
