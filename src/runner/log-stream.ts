import { StringDecoder } from 'node:string_decoder';
import { Writable } from 'node:stream';
import type { LogAck, LogChunk } from '../shared/protocol.js';
import type { RedactingStream, Redactor } from '../shared/redact.js';
import { isAbortError } from './backoff.js';
import { LeaseLostError } from './client.js';

/** Sends one chunk; retries transient failures itself and calls `onRetry` before each retry. */
export type SendChunk = (chunk: LogChunk, call: { signal: AbortSignal; onRetry: () => void }) => Promise<LogAck>;

export interface LogStreamOptions {
  send: SendChunk;
  /** The lease is gone: the job must stop, and nothing more is sent. */
  onLeaseLost?: () => void;
  /** A chunk the server refused for good (not a network error); it is skipped. */
  onRejected?: (err: Error) => void;
  /** A chunk is cut at this many characters... */
  batchChars?: number;
  /** ...or when its first character has waited this long. */
  flushMs?: number;
  /** While the server answers, the writer waits once this much output is queued (backpressure). */
  queueLimitChars?: number;
  /** While the server is unreachable, output is queued up to this much, then dropped with a marker. */
  offlineLimitChars?: number;
  /** The credential values the job was given: hidden from everything it prints, even a value cut across two writes. */
  redact?: Redactor;
}

type Mode = 'open' | 'truncated' | 'lost' | 'aborted';

/**
 * A job's output on its way to the server: a Writable that cuts what it is given into chunks
 * numbered 1, 2, 3, ... and sends them one at a time, in order. Memory stays bounded: while the
 * server answers, a full queue holds the writer back (so a pipe into it pauses its source); while
 * the server is unreachable the job keeps running, output is queued up to a limit and the rest
 * dropped with a one-line marker; once the server says the log is truncated, or the lease is
 * gone, everything further is swallowed so the job's pipes keep draining.
 */
export class LogStream extends Writable {
  private readonly opts: Required<Omit<LogStreamOptions, 'onLeaseLost' | 'onRejected' | 'redact'>> & LogStreamOptions;
  private batch: string[] = [];
  private batchChars = 0;
  private readonly queue: LogChunk[] = [];
  private queueChars = 0;
  private seq = 0;
  private sending = false;
  private healthy = true;
  private mode: Mode = 'open';
  private droppedChars = 0;
  private timer: NodeJS.Timeout | undefined;
  private heldWrite: (() => void) | undefined;
  private idleWaiters: (() => void)[] = [];
  private readonly sendAbort = new AbortController();
  private readonly redacting: RedactingStream | undefined;
  /**
   * Bytes written as Buffers are one stream of UTF-8: a character cut between two writes is held
   * until its end comes, else it would show as two U+FFFD and a non-ASCII value cut there would
   * escape redaction. Two sources (stdout, stderr) must each be decoded before they meet, as
   * `runCommand` does: here they would mix the halves of two characters.
   */
  private readonly decoder = new StringDecoder('utf8');
  /** The most output held in memory at once (for tests and diagnostics). */
  maxBufferedChars = 0;

  constructor(opts: LogStreamOptions) {
    super({ decodeStrings: false, highWaterMark: 16 * 1024 });
    this.opts = { batchChars: 64 * 1024, flushMs: 100, queueLimitChars: 256 * 1024, offlineLimitChars: 8 * 1024 * 1024, ...opts };
    this.redacting = opts.redact?.stream();
  }

  /** Whether the server said the log reached its cap. */
  get truncated(): boolean {
    return this.mode === 'truncated';
  }

  /** Stops sending at once; what is queued is dropped. */
  abort(): void {
    this.close('aborted');
    this.sendAbort.abort();
  }

  /** Ends the stream and waits until everything was sent (or the stream stopped sending). */
  async finish(): Promise<void> {
    if (this.writableFinished) return;
    await new Promise<void>((resolve, reject) => {
      this.once('finish', resolve);
      this.once('close', resolve);
      this.once('error', reject);
      if (!this.writableEnded) this.end();
    });
  }

  override _write(chunk: string | Buffer, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
    if (this.mode !== 'open') return done();
    // A string after bytes ends what the bytes began: the order of the output is kept.
    const raw = typeof chunk === 'string' ? this.decoder.end() + chunk : this.decoder.write(chunk);
    const text = this.redacting ? this.redacting.write(raw) : raw;
    if (text === '') return done();
    if (!this.healthy && this.queueChars + this.batchChars >= this.opts.offlineLimitChars) {
      this.droppedChars += text.length;
      return done();
    }
    this.noteDropped();
    this.append(text);
    this.pump();
    if (this.healthy && this.queueChars >= this.opts.queueLimitChars) this.heldWrite = () => done();
    else done();
  }

  override _final(done: (error?: Error | null) => void): void {
    const rest = this.decoder.end();
    const held = this.redacting ? this.redacting.write(rest) + this.redacting.end() : rest;
    if (held && this.mode === 'open') this.append(held);
    this.noteDropped();
    this.cut();
    this.pump();
    this.whenIdle(() => done());
  }

  override _destroy(error: Error | null, done: (error?: Error | null) => void): void {
    this.abort();
    done(error);
  }

  private append(text: string): void {
    // Pipes hand over at most 64 KiB at a time; a larger write is cut so no chunk outgrows the protocol's limit.
    for (let max = this.opts.batchChars; text.length > max; text = text.slice(max)) this.append(text.slice(0, max));
    this.batch.push(text);
    this.batchChars += text.length;
    this.noteBuffered();
    if (this.batchChars >= this.opts.batchChars) this.cut();
    else
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.cut();
        this.pump();
      }, this.opts.flushMs);
  }

  private noteDropped(): void {
    if (this.droppedChars === 0) return;
    const n = this.droppedChars;
    this.droppedChars = 0;
    this.append(`\n[lazyaf runner: ${n} characters of output dropped while the server was unreachable]\n`);
  }

  private noteBuffered(): void {
    this.maxBufferedChars = Math.max(this.maxBufferedChars, this.queueChars + this.batchChars);
  }

  private cut(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.batchChars === 0) return;
    const data = this.batch.join('');
    this.batch = [];
    this.batchChars = 0;
    this.queue.push({ seq: ++this.seq, data });
    this.queueChars += data.length;
  }

  private pump(): void {
    const chunk = this.queue[0];
    if (!this.sending && this.mode === 'open' && chunk) this.send(chunk);
    this.settle();
  }

  private send(chunk: LogChunk): void {
    this.sending = true;
    const onRetry = () => {
      this.healthy = false;
      this.settle();
    };
    this.opts
      .send(chunk, { signal: this.sendAbort.signal, onRetry })
      .then(
        (ack) => {
          this.healthy = true;
          this.shift();
          if (ack.truncated) this.close('truncated');
        },
        (err: Error) => {
          if (err instanceof LeaseLostError) {
            this.close('lost');
            this.opts.onLeaseLost?.();
          } else if (isAbortError(err)) {
            this.close('aborted');
          } else {
            // Refused for good (e.g. malformed): retrying it would block the log forever.
            this.shift();
            this.opts.onRejected?.(err);
          }
        },
      )
      .finally(() => {
        this.sending = false;
        this.pump();
      });
  }

  private shift(): void {
    const sent = this.queue.shift();
    if (sent) this.queueChars -= sent.data.length;
  }

  private close(mode: Exclude<Mode, 'open'>): void {
    if (this.mode === 'open') this.mode = mode;
    this.queue.length = 0;
    this.queueChars = 0;
    this.batch = [];
    this.batchChars = 0;
    this.droppedChars = 0;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.settle();
  }

  /** Lets a held write go on, and wakes those waiting for the queue to empty, when they may. */
  private settle(): void {
    if (this.heldWrite && (this.mode !== 'open' || !this.healthy || this.queueChars < this.opts.queueLimitChars)) {
      const release = this.heldWrite;
      this.heldWrite = undefined;
      release();
    }
    if (!this.sending && (this.mode !== 'open' || this.queue.length === 0)) {
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const wake of waiters) wake();
    }
  }

  private whenIdle(wake: () => void): void {
    this.idleWaiters.push(wake);
    this.settle();
  }
}
