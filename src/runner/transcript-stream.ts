import type { LogAck, TranscriptBatch } from '../shared/protocol.js';
import type { TranscriptEntry } from '../shared/transcript.js';
import { isAbortError } from './backoff.js';
import { LeaseLostError, ProtocolError } from './client.js';

/** Sends one batch; retries transient failures itself until it gets an answer or `signal` aborts. */
export type SendBatch = (batch: TranscriptBatch, call: { signal: AbortSignal }) => Promise<LogAck>;

export interface TranscriptStreamOptions {
  send: SendBatch;
  /** The lease is gone: the job must stop. */
  onLeaseLost?: () => void;
  /** One line for the runner's log and the job's (the server refused a batch, or takes no transcripts). */
  say: (line: string) => void;
  /** A batch is sent once its first entry has waited this long... */
  flushMs?: number;
  /** ...or it holds this many entries (the protocol's most)... */
  maxEntries?: number;
  /** ...or this many characters of JSON. */
  maxChars?: number;
  /** While the server does not answer, entries wait up to this many; the rest are dropped and counted. */
  queueLimit?: number;
}

/**
 * An agent job's transcript on its way to the server: entries in batches numbered 1, 2, 3, ...,
 * one batch in flight at a time, in order, as log chunks go (a batch the server has seen already is
 * ignored there, so a resend is harmless). A server that does not take transcripts (404: one
 * before protocol 5's transcript route) is said once and then left alone: the raw log has it all.
 */
export class TranscriptStream {
  private readonly opts: Required<Omit<TranscriptStreamOptions, 'onLeaseLost'>> & TranscriptStreamOptions;
  private queue: TranscriptEntry[] = [];
  private seq = 0;
  private sending: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private dropped = 0;
  private readonly abortCtl = new AbortController();

  constructor(opts: TranscriptStreamOptions) {
    this.opts = { flushMs: 200, maxEntries: 200, maxChars: 1024 * 1024, queueLimit: 20_000, ...opts };
  }

  push(entries: TranscriptEntry[]): void {
    if (this.stopped || entries.length === 0) return;
    const room = this.opts.queueLimit - this.queue.length;
    if (room < entries.length) this.dropped += entries.length - Math.max(0, room);
    this.queue.push(...entries.slice(0, Math.max(0, room)));
    if (this.queue.length >= this.opts.maxEntries) this.pump();
    else this.timer ??= setTimeout(() => this.pump(), this.opts.flushMs);
  }

  /** Sends what is left and resolves once it was sent, or the stream stopped. */
  async finish(): Promise<void> {
    while (!this.stopped && (this.queue.length > 0 || this.sending)) {
      this.pump();
      await this.sending;
    }
    if (this.dropped > 0 && !this.stopped) this.opts.say(`${this.dropped} transcript entries were dropped while the server did not answer`);
  }

  /** Stops at once; nothing more is sent. */
  abort(): void {
    this.stop();
    this.abortCtl.abort();
  }

  private stop(): void {
    this.stopped = true;
    this.queue = [];
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private pump(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.sending || this.stopped || this.queue.length === 0) return;
    const batch: TranscriptBatch = { seq: ++this.seq, entries: this.take() };
    this.sending = this.send(batch).finally(() => {
      this.sending = undefined;
      if (this.queue.length > 0) this.pump();
    });
  }

  /** The next batch's entries: at least one, at most maxEntries and (after the first) maxChars of JSON. */
  private take(): TranscriptEntry[] {
    let chars = 0;
    let n = 0;
    while (n < this.queue.length && n < this.opts.maxEntries) {
      chars += JSON.stringify(this.queue[n]).length;
      if (n > 0 && chars > this.opts.maxChars) break;
      n++;
    }
    return this.queue.splice(0, n);
  }

  private async send(batch: TranscriptBatch): Promise<void> {
    try {
      const ack = await this.opts.send(batch, { signal: this.abortCtl.signal });
      if (ack.truncated) {
        this.opts.say('the transcript reached its cap on the server; the rest is in the raw log');
        this.stop();
      }
    } catch (err) {
      if (err instanceof LeaseLostError) {
        this.stop();
        this.opts.onLeaseLost?.();
      } else if (isAbortError(err)) this.stop();
      else if (err instanceof ProtocolError && err.status === 404) {
        this.opts.say('the server takes no transcripts (404); the raw log has the agent’s whole output');
        this.stop();
      } else this.opts.say(`the server refused transcript batch ${batch.seq}: ${(err as Error).message}`);
    }
  }
}
