export { createClient, type AgentwireClient, type ClientOptions } from './client.js';
export { AgentwireError } from './errors.js';
export { backoffDelay, type BackoffOptions } from './backoff.js';
export type { WatchStatus } from './feed.js';
export { applyEvent, type LowerEventType, type TaskEvent, type TaskState } from './state.js';
export { TaskWatch, AllTasksWatch, type CursorStorage, type TaskSummary } from './watch.js';
export * from './generated.js';
