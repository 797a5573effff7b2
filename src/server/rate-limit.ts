/**
 * A token bucket: `burst` takes at once, refilled at `perSecond`. It lives in memory because it
 * only guards a route; a restart refilling it is harmless.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = burst;
    this.last = now();
  }

  /** Takes one token: returns 0, or else the whole seconds to wait until one is free. */
  take(): number {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.perSecond);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - this.tokens) / this.perSecond));
  }
}

/**
 * A token bucket per key (a client's address), so that one client spending its attempts does not
 * lock the others out. The least recently used bucket is forgotten beyond `maxKeys`, which keeps
 * memory bounded; a client that gets forgotten starts full again, so a looser bucket for everyone
 * should stand behind this one.
 */
export class KeyedBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly burst: number,
    private readonly perSecond: number,
    private readonly maxKeys = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Takes one token of `key`'s bucket: 0, or the whole seconds to wait. */
  take(key: string): number {
    let bucket = this.buckets.get(key);
    // Map keeps insertion order: moving a key to the end keeps the least recently used first.
    if (bucket) this.buckets.delete(key);
    else bucket = new TokenBucket(this.burst, this.perSecond, this.now);
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) this.buckets.delete(this.buckets.keys().next().value!);
    return bucket.take();
  }
}
