import { Feed, type FeedOptions } from './feed.js';
import { MyTaskUpdatesDocument, TaskSnapshotDocument, type TaskStatus } from './generated.js';
import { applyEvent, fromRestEvent, type TaskEvent, type TaskState } from './state.js';
import type { SubscriptionRequest } from './transport.js';

/** Where a watch keeps its cursor (and state) so that a page refresh resumes: `sessionStorage` in a browser. */
export interface CursorStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export interface TaskWatchOptions extends FeedOptions {
  taskId: string;
  storage?: CursorStorage | undefined;
  storageKey: string;
  /** One long-poll page: the stored events with seq > after (REST `/api/agent/{id}/events`). */
  pollEvents?: ((after: number, signal: AbortSignal) => Promise<Record<string, unknown>[]>) | undefined;
  /** The task as it is now, for a fallback that starts with no snapshot. */
  fetchTask?: ((signal: AbortSignal) => Promise<TaskState | null>) | undefined;
}

/** `client.watch(taskId)`: the task's state, its events, and the connection's status. */
export class TaskWatch extends Feed<TaskState | undefined> {
  protected readonly field = 'taskUpdates';
  private current: TaskState | undefined;
  private lastSeq: number | undefined;

  constructor(private readonly options: TaskWatchOptions) {
    super(options);
    const saved = options.storage?.getItem(options.storageKey);
    if (saved) {
      try {
        const parsed = JSON.parse(saved) as { seq: number; state: TaskState };
        if (typeof parsed.seq === 'number' && parsed.state?.id === options.taskId) {
          this.lastSeq = parsed.seq;
          this.current = parsed.state;
        }
      } catch {
        options.storage?.removeItem(options.storageKey);
      }
    }
    if (options.pollEvents) this.poll = (signal) => this.pollLoop(signal);
    this.start();
  }

  get taskId(): string {
    return this.options.taskId;
  }

  /** The task as of the last event: the SNAPSHOT, then each delta applied. Undefined until the first. */
  get state(): TaskState | undefined {
    return this.current;
  }

  /** The seq of the last event applied: what a reconnect resumes after. */
  get seq(): number | undefined {
    return this.lastSeq;
  }

  protected request(): SubscriptionRequest {
    const variables: Record<string, unknown> = { taskId: this.options.taskId };
    if (this.lastSeq !== undefined && this.current) variables.after = this.lastSeq;
    return { query: TaskSnapshotDocument, variables };
  }

  protected accept(event: TaskEvent): boolean {
    if (event.type === 'SNAPSHOT') {
      const task = (event.data as { task?: TaskState | null }).task;
      if (!task || (this.lastSeq !== undefined && event.seq !== null && event.seq < this.lastSeq)) return false;
      this.current = task;
      this.lastSeq = event.seq ?? task.lastSeq;
    } else if (event.seq === null) {
      // Ephemeral (QUEUE_UPDATE) and control (LAGGED) events move no cursor.
      if (this.current && event.type === 'QUEUE_UPDATE') this.current = applyEvent(this.current, event);
    } else {
      if (this.lastSeq !== undefined && event.seq <= this.lastSeq) return false;
      this.lastSeq = event.seq;
      if (this.current) this.current = applyEvent(this.current, event);
    }
    this.save();
    return true;
  }

  close(): void {
    super.close();
  }

  /** Forget the saved cursor (a finished task's watch need not resume). */
  forget(): void {
    this.options.storage?.removeItem(this.options.storageKey);
  }

  private save(): void {
    if (!this.options.storage || this.lastSeq === undefined || !this.current) return;
    try {
      this.options.storage.setItem(this.options.storageKey, JSON.stringify({ seq: this.lastSeq, state: this.current }));
    } catch {
      // A full storage only costs the resume after a refresh.
    }
  }

  private async pollLoop(signal: AbortSignal): Promise<void> {
    if (!this.current && this.options.fetchTask) {
      const task = await this.options.fetchTask(signal);
      if (signal.aborted) return;
      if (task) {
        this.deliver({
          id: `poll-snapshot-${task.lastSeq}`,
          version: 1,
          type: 'SNAPSHOT',
          seq: task.lastSeq,
          timestamp: Date.now(),
          priority: 'CRITICAL',
          cursor: null,
          data: emptyData(task.id, task.status, { task }),
        });
      }
    }
    while (!signal.aborted && this.options.pollEvents) {
      const page = await this.options.pollEvents(this.lastSeq ?? 0, signal);
      if (signal.aborted) return;
      for (const raw of page) this.deliver(fromRestEvent(raw));
    }
  }
}

export interface TaskSummary {
  taskId: string;
  status: TaskStatus | null;
  queuePosition: number | null;
  estimatedWaitTime: number | null;
  lastSeq: number | null;
}

export interface AllTasksWatchOptions extends FeedOptions {
  storage?: CursorStorage | undefined;
  storageKey: string;
}

/** `client.watchAll()`: every event of every task of the caller (`myTaskUpdates`), resumable by cursor. */
export class AllTasksWatch extends Feed<ReadonlyMap<string, TaskSummary>> {
  protected readonly field = 'myTaskUpdates';
  private tasks = new Map<string, TaskSummary>();
  private cursor: string | undefined;
  private seen = new Set<string>();

  constructor(private readonly options: AllTasksWatchOptions) {
    super(options);
    this.cursor = options.storage?.getItem(options.storageKey) ?? undefined;
    this.start();
  }

  /** The last known status, queue position and seq of each task seen so far. */
  get state(): ReadonlyMap<string, TaskSummary> {
    return this.tasks;
  }

  protected request(): SubscriptionRequest {
    return { query: MyTaskUpdatesDocument, variables: this.cursor ? { after: this.cursor } : {} };
  }

  protected accept(event: TaskEvent): boolean {
    const taskId = event.data.taskId;
    const known = this.tasks.get(taskId);
    if (event.seq !== null && known?.lastSeq != null && event.seq <= known.lastSeq) return false;
    if (this.seen.has(event.id)) return false;
    this.seen.add(event.id);
    if (this.seen.size > 5000) this.seen.delete(this.seen.values().next().value as string);
    const summary: TaskSummary = known ?? { taskId, status: null, queuePosition: null, estimatedWaitTime: null, lastSeq: null };
    const next = { ...summary };
    if (event.data.status) next.status = event.data.status;
    if (event.type === 'QUEUE_UPDATE') {
      next.queuePosition = event.data.queuePosition;
      next.estimatedWaitTime = event.data.estimatedWaitTime;
    } else if (next.status !== 'PENDING') {
      next.queuePosition = null;
      next.estimatedWaitTime = null;
    }
    if (event.seq !== null) next.lastSeq = event.seq;
    this.tasks.set(taskId, next);
    if (event.cursor && event.type !== 'QUEUE_UPDATE') {
      this.cursor = event.cursor;
      try {
        this.options.storage?.setItem(this.options.storageKey, event.cursor);
      } catch {
        // see TaskWatch.save
      }
    }
    return true;
  }
}

function emptyData(taskId: string, status: TaskStatus, extra: Record<string, unknown>): TaskEvent['data'] {
  return {
    taskId,
    status,
    previousStatus: null,
    step: null,
    progress: null,
    message: null,
    approvalRequest: null,
    result: null,
    error: null,
    queuePosition: null,
    estimatedWaitTime: null,
    resumeAfter: null,
    ...extra,
  } as TaskEvent['data'];
}
