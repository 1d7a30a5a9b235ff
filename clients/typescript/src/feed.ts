import { backoffDelay, sleep, type BackoffOptions } from './backoff.js';
import { AgentwireError, fromGraphQLErrors, isGraphQLErrorList } from './errors.js';
import type { LowerEventType, TaskEvent } from './state.js';
import type { SubscriptionRequest, Transport } from './transport.js';

export type WatchStatus = 'connecting' | 'open' | 'reconnecting' | 'polling' | 'closed';

type Listener<T> = (value: T) => void;

export interface FeedOptions {
  transport: Transport;
  backoff?: BackoffOptions | undefined;
  /** Consecutive failed socket attempts before the long-poll fallback starts (default 2). */
  pollAfterFailures?: number | undefined;
}

/**
 * A subscription that survives its socket: it resubscribes with backoff and full jitter from
 * its own cursor, drops anything it already delivered, and (when `poll` is given) falls back
 * to long-polling while the socket cannot connect, returning to the socket when it can.
 */
export abstract class Feed<S> {
  private statusValue: WatchStatus = 'connecting';
  private listeners = new Map<string, Set<Listener<never>>>();
  private iterators = new Set<(event: TaskEvent | null) => void>();
  private backlog: TaskEvent[] | null = [];
  private stopCurrent: (() => void) | undefined;
  private pollAbort: AbortController | undefined;
  private closedSignal = new AbortController();
  private readonly ready: Promise<void>;
  private readyResolve!: () => void;

  protected abstract readonly field: string;
  abstract get state(): S;

  constructor(private readonly feedOptions: FeedOptions) {
    this.ready = new Promise((resolve) => (this.readyResolve = resolve));
  }

  get status(): WatchStatus {
    return this.statusValue;
  }

  /** Resolves once the first event (the SNAPSHOT, for a task) has been applied. */
  whenReady(): Promise<void> {
    return this.ready;
  }

  /** `on('step_progress', e => …)`, `on('event', e => …)` for all, `on('status', s => …)`, `on('error', e => …)`. */
  on(type: 'status', listener: Listener<WatchStatus>): () => void;
  on(type: 'error', listener: Listener<AgentwireError>): () => void;
  on(type: LowerEventType | 'event', listener: Listener<TaskEvent>): () => void;
  on(type: string, listener: Listener<never>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Every delivered event, in order; the first iterator also gets what came before it. */
  get events(): AsyncIterableIterator<TaskEvent> {
    const queue: TaskEvent[] = this.backlog ?? [];
    this.backlog = null;
    let wake: (() => void) | undefined;
    let done = this.statusValue === 'closed';
    const push = (event: TaskEvent | null): void => {
      if (event === null) done = true;
      else queue.push(event);
      wake?.();
    };
    this.iterators.add(push);
    const iterator: AsyncIterableIterator<TaskEvent> = {
      [Symbol.asyncIterator]: () => iterator,
      next: async () => {
        while (queue.length === 0 && !done) await new Promise<void>((resolve) => (wake = resolve));
        const value = queue.shift();
        if (value) return { value, done: false };
        this.iterators.delete(push);
        return { value: undefined, done: true };
      },
      return: async () => {
        this.iterators.delete(push);
        done = true;
        return { value: undefined, done: true };
      },
    };
    return iterator;
  }

  close(): void {
    if (this.statusValue === 'closed') return;
    this.closedSignal.abort();
    this.stopCurrent?.();
    this.pollAbort?.abort();
    this.setStatus('closed');
    for (const push of this.iterators) push(null);
    this.iterators.clear();
  }

  /** The request for the next (re)subscription, built from the current cursor. */
  protected abstract request(): SubscriptionRequest;
  /** Applies the event unless it was already delivered; true when it is new. */
  protected abstract accept(event: TaskEvent): boolean;
  /** Long-polls from the current cursor until `signal` aborts; undefined when there is no fallback. */
  protected poll?(signal: AbortSignal): Promise<void>;

  protected start(): void {
    void this.run();
  }

  protected deliver(event: TaskEvent): void {
    if (this.statusValue === 'closed' || !this.accept(event)) return;
    this.readyResolve();
    this.backlog?.push(event);
    if (this.backlog && this.backlog.length > 10_000) this.backlog.shift();
    for (const push of this.iterators) push(event);
    this.emit(event.type.toLowerCase(), event);
    this.emit('event', event);
  }

  protected fail(error: AgentwireError): void {
    this.emit('error', error);
    this.close();
  }

  private emit(type: string, value: unknown): void {
    for (const listener of [...(this.listeners.get(type) ?? [])]) {
      try {
        (listener as Listener<unknown>)(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }

  private setStatus(status: WatchStatus): void {
    if (status === this.statusValue || this.statusValue === 'closed') return;
    this.statusValue = status;
    this.emit('status', status);
  }

  private async run(): Promise<void> {
    const signal = this.closedSignal.signal;
    let failures = 0;
    let everOpen = false;
    while (!signal.aborted) {
      if (!this.pollAbort) this.setStatus(everOpen ? 'reconnecting' : 'connecting');
      const outcome = await this.subscribeOnce();
      if (signal.aborted) return;
      if (outcome.kind === 'refused') {
        const errors = outcome.errors;
        this.fail(isGraphQLErrorList(errors) ? fromGraphQLErrors(errors) : new AgentwireError('subscription refused', 'REFUSED'));
        return;
      }
      if (outcome.opened) {
        everOpen = true;
        failures = 0;
      } else {
        failures += 1;
      }
      if (!outcome.opened && this.poll && !this.pollAbort && failures >= (this.feedOptions.pollAfterFailures ?? 2)) {
        this.startPolling();
      }
      await sleep(backoffDelay(failures, this.feedOptions.backoff), signal);
    }
  }

  private startPolling(): void {
    const abort = (this.pollAbort = new AbortController());
    this.setStatus('polling');
    void (async () => {
      let attempt = 0;
      while (!abort.signal.aborted) {
        try {
          await this.poll?.(abort.signal);
          return;
        } catch (error) {
          if (abort.signal.aborted) return;
          if (error instanceof AgentwireError && (error.code === 'NOT_FOUND' || error.code === 'FORBIDDEN')) {
            this.fail(error);
            return;
          }
          await sleep(backoffDelay(++attempt, this.feedOptions.backoff), abort.signal);
        }
      }
    })();
  }

  private stopPolling(): void {
    this.pollAbort?.abort();
    this.pollAbort = undefined;
  }

  private subscribeOnce(): Promise<{ kind: 'refused'; errors: unknown } | { kind: 'lost'; opened: boolean }> {
    const transport = this.feedOptions.transport;
    return new Promise((resolve) => {
      let opened = false;
      let finished = false;
      const markOpen = (): void => {
        if (opened || finished) return;
        opened = true;
        this.stopPolling();
        this.setStatus('open');
      };
      const finish = (value: { kind: 'refused'; errors: unknown } | { kind: 'lost'; opened: boolean }): void => {
        if (finished) return;
        finished = true;
        offConnection();
        resolve(value);
      };
      const offConnection = transport.onConnection((connected) => {
        if (connected) markOpen();
      });
      const stop = transport.subscribe(this.request(), {
        next: (payload) => {
          if (isGraphQLErrorList(payload.errors)) {
            stop();
            finish({ kind: 'refused', errors: payload.errors });
            return;
          }
          markOpen();
          const event = (payload.data as Record<string, TaskEvent> | undefined)?.[this.field];
          if (event) this.deliver(event);
        },
        end: (end) => finish(end.kind === 'refused' ? end : { kind: 'lost', opened }),
      });
      if (transport.connected) markOpen();
      this.stopCurrent = () => {
        stop();
        finish({ kind: 'lost', opened });
      };
    });
  }
}
