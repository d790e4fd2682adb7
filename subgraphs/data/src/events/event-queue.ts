/**
 * One subscriber's events, in order, as an async iterator the subscription's execution reads. The fan-out
 * pushes; the reader takes. What a repeater does for a stream, with one queue and, per event, one settled
 * promise (or the reader's waiting one) instead of several: the fan-out pushes an event to each of
 * thousands of subscribers, and each promise is work and garbage on every delivery.
 *
 * - `push` queues a value (or hands it to a waiting `next`); after the end it does nothing.
 * - `stop(error?)` ends the stream after the values already queued; with an error, the reader gets the
 *   values, then that error. The stop callbacks run at once.
 * - `return()` (the reader leaves) drops what is queued and ends it; the stop callbacks run.
 * - It starts (`start`) at the reader's first `next`, as a generator would, so a stream never read holds
 *   nothing it must let go of, except what its creator set up before.
 */
export class EventQueue<T> implements AsyncIterableIterator<T> {
  private values: T[] = [];
  private head = 0;
  private readers: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }[] = [];
  /** Ended by its writer: what the reader gets once the queue is empty. */
  private end: { error: unknown } | { error?: never } | null = null;
  /** Nothing more to read (the end was given, or the reader left). */
  private closed = false;
  private stops: (() => void)[] = [];
  private waits: { n: number; resolve: () => void }[] = [];

  constructor(private start: (() => void) | null = null) {}

  /** Values queued and not yet taken. */
  get size(): number {
    return this.values.length - this.head;
  }

  /** Ended: by its writer (values may still wait) or by its reader. */
  get stopped(): boolean {
    return this.end !== null || this.closed;
  }

  push(value: T): void {
    if (this.stopped) return;
    const reader = this.readers.shift();
    if (reader) reader.resolve({ value, done: false });
    else this.values.push(value);
  }

  stop(...error: [] | [unknown]): void {
    if (this.stopped) return;
    this.end = error.length > 0 && error[0] !== undefined ? { error: error[0] } : {};
    this.stopped_();
    // A reader waiting has taken every value: it gets the end now.
    for (const reader of this.readers.splice(0)) this.settleEnd(reader);
  }

  /** Runs `fn` when the stream ends, by either side (at once if it has). */
  onStop(fn: () => void): void {
    if (this.stopped) fn();
    else this.stops.push(fn);
  }

  /** Resolves once fewer than `n` values wait, or the stream ended. */
  below(n: number): Promise<void> {
    if (this.size < n || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.waits.push({ n, resolve }));
  }

  next(): Promise<IteratorResult<T>> {
    if (this.start) {
      const start = this.start;
      this.start = null;
      start();
    }
    if (this.size > 0) {
      const value = this.values[this.head]!;
      this.values[this.head++] = undefined as T;
      if (this.head > 1024 && this.head * 2 > this.values.length) {
        this.values = this.values.slice(this.head);
        this.head = 0;
      }
      this.release();
      return Promise.resolve({ value, done: false });
    }
    if (this.closed) return Promise.resolve({ value: undefined, done: true });
    if (this.end) return new Promise((resolve, reject) => this.settleEnd({ resolve, reject }));
    return new Promise((resolve, reject) => this.readers.push({ resolve, reject }));
  }

  return(): Promise<IteratorResult<T>> {
    this.start = null;
    this.values = [];
    this.head = 0;
    this.closed = true;
    this.stopped_();
    for (const reader of this.readers.splice(0)) reader.resolve({ value: undefined, done: true });
    this.release();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error: unknown): Promise<IteratorResult<T>> {
    void this.return();
    return Promise.reject(error);
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  /** The end, given once: its error (or done); then the stream is closed. */
  private settleEnd(reader: { resolve: (r: IteratorResult<T>) => void; reject: (e: unknown) => void }): void {
    const end = this.end!;
    this.closed = true;
    if ('error' in end && end.error !== undefined) {
      this.end = {};
      reader.reject(end.error);
    } else reader.resolve({ value: undefined, done: true });
  }

  private stopped_(): void {
    for (const fn of this.stops.splice(0)) fn();
    this.release();
  }

  private release(): void {
    if (this.waits.length === 0) return;
    const size = this.size;
    const stopped = this.stopped;
    this.waits = this.waits.filter((w) => (size < w.n || stopped ? (w.resolve(), false) : true));
  }
}
