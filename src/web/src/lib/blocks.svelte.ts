/**
 * A long list drawn a block of rows at a time, each block as it comes within a screenful or two of
 * the view, and kept once drawn: until then a block is one placeholder as tall as its rows are
 * guessed to be. The review's diff (a 1 MiB diff of 124,000 lines took 43 s to show whole) and a
 * job's transcript (20,000 entries took 3.5 s to first show) use it. Rows keep their place in
 * the page, so find-in-page, anchors and focus work within drawn blocks; unlike a window of rows
 * recycled on scroll, rows may differ in height and nothing scrolls under the reader.
 */
export const BLOCK_ROWS = 200;

/** The [from, to) row ranges of `n` rows in blocks of `size`. */
export function blocksOf(n: number, size = BLOCK_ROWS): [number, number][] {
  return Array.from({ length: Math.ceil(n / size) }, (_, b) => [b * size, Math.min(n, (b + 1) * size)]);
}

/** Which blocks (by key) have come near the view. */
export class RevealedBlocks {
  // Replaced, never changed, so the view sees each block revealed.
  // eslint-disable-next-line svelte/prefer-svelte-reactivity -- replaced whole, see show()
  private shown = $state.raw<ReadonlySet<string>>(new Set());

  /** `margin`: how near the view a placeholder is drawn (an IntersectionObserver rootMargin). */
  constructor(private readonly margin = '1500px 0px') {}

  /** How many are drawn: read it to follow each reveal. */
  get count(): number {
    return this.shown.size;
  }

  has(key: string): boolean {
    return this.shown.has(key);
  }

  /** Draws block `key` now (the end of a transcript asked for, a comment to jump to). */
  show(key: string): void {
    if (this.shown.has(key)) return;
    // eslint-disable-next-line svelte/prefer-svelte-reactivity -- a new set each time
    this.shown = new Set(this.shown).add(key);
  }

  /** An attachment for block `key`'s placeholder: draws the block once the placeholder nears the view. */
  whenNear(key: string): (node: Element) => () => void {
    return (node) => {
      const seen = new IntersectionObserver(
        (entries) => {
          if (!entries.some((e) => e.isIntersecting)) return;
          seen.disconnect();
          this.show(key);
        },
        { rootMargin: this.margin },
      );
      seen.observe(node);
      return () => seen.disconnect();
    };
  }
}
