import type { BackoffOptions } from './backoff.js';
import * as G from './generated.js';
import { getRest, postGraphQL, type FetchLike } from './http.js';
import type { TaskState } from './state.js';
import { TabSharedTransport, canShareAcrossTabs } from './tabs.js';
import { TokenSource } from './token.js';
import { DirectTransport, type Transport, type WebSocketConstructor } from './transport.js';
import { AllTasksWatch, TaskWatch, type CursorStorage } from './watch.js';

export interface ClientOptions {
  /** The server's address, e.g. `http://127.0.0.1:8000` (a trailing `/graphql` is accepted too). */
  url: string;
  /** A fixed JWT or API key… */
  token?: string;
  /** …or a function that returns a fresh one; called before expiry and after a refusal. */
  getToken?: () => Promise<string> | string;
  /** The WebSocket endpoint, when it is not `ws(s)://<url host>/graphql`. */
  wsUrl?: string;
  webSocketImpl?: WebSocketConstructor;
  fetch?: FetchLike;
  /** Where watches keep their cursors; `sessionStorage` in a browser, none elsewhere. `null` turns it off. */
  storage?: CursorStorage | null;
  /** Share one socket between the tabs of this origin (default: true where Web Locks exist). */
  shareAcrossTabs?: boolean;
  backoff?: BackoffOptions;
  /** Failed socket attempts before a watch long-polls instead (default 2). */
  pollAfterFailures?: number;
  /** How long one long-poll waits on the server, in seconds (default 25). */
  pollWaitSeconds?: number;
}

export interface AgentwireClient {
  submitTask(input: G.SubmitTaskInput): Promise<G.SubmitTaskResult['submitTask']>;
  task(id: string): Promise<G.GetTaskResult['task']>;
  tasks(variables?: G.ListTasksVariables): Promise<G.ListTasksResult['tasks']>;
  approve(input: G.ApproveInput): Promise<G.ApproveResult['approve']>;
  /** Several answers at once: atomic by default; `atomic: false` gives one result per answer. */
  approveBatch(
    decisions: G.ApproveInput[],
    options?: { atomic?: boolean; idempotencyKey?: string },
  ): Promise<G.ApproveBatchResult['approveBatch']>;
  undo(taskId: string, stepId?: string | null): Promise<G.UndoResult['undo']>;
  undoPlan(taskId: string, stepId?: string | null): Promise<G.UndoPlanResult['undoPlan']>;
  cancelTask(taskId: string): Promise<G.CancelTaskResult['cancelTask']>;
  taskEvents(taskId: string, options?: { after?: number; limit?: number }): Promise<G.TaskEventsResult['taskEvents']>;
  /** The approval inbox, newest first: your tasks' requests and those your roles may decide. */
  approvals(variables?: G.ApprovalsVariables): Promise<G.ApprovalsResult['approvals']>;
  me(): Promise<G.MeResult['me']>;
  /** Live state of one task: SNAPSHOT then deltas, resumed across reconnects and page refreshes. */
  watch(taskId: string): TaskWatch;
  /** Every event of every task of the caller (`myTaskUpdates`). */
  watchAll(): AllTasksWatch;
  /** Whether this tab holds the shared socket (always true without tab sharing). */
  readonly isSocketOwner: boolean;
  close(): void;
}

export function createClient(options: ClientOptions): AgentwireClient {
  const base = options.url.replace(/\/+$/, '').replace(/\/graphql$/, '');
  const endpoint = `${base}/graphql`;
  const wsUrl = options.wsUrl ?? endpoint.replace(/^http/, 'ws');
  const tokens = new TokenSource(options.token, options.getToken);
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const storage =
    options.storage === null
      ? undefined
      : (options.storage ?? (typeof sessionStorage !== 'undefined' ? sessionStorage : undefined));
  const makeDirect = (): Transport => new DirectTransport({ url: wsUrl, tokens, webSocketImpl: options.webSocketImpl });
  const shared = (options.shareAcrossTabs ?? true) && canShareAcrossTabs();
  let tabs: TabSharedTransport | undefined;
  let transport: Transport | undefined;
  const getTransport = (): Transport => {
    if (transport) return transport;
    if (shared) transport = tabs = new TabSharedTransport(wsUrl, makeDirect);
    else transport = makeDirect();
    return transport;
  };
  const feeds = new Set<{ close(): void }>();
  const call = <T>(query: string, variables: object): Promise<T> => postGraphQL<T>(endpoint, tokens, fetchImpl, query, variables);
  const feedOptions = () => ({
    transport: getTransport(),
    backoff: options.backoff,
    pollAfterFailures: options.pollAfterFailures,
  });

  return {
    submitTask: async (input) => (await call<G.SubmitTaskResult>(G.SubmitTaskDocument, { input })).submitTask,
    task: async (id) => (await call<G.GetTaskResult>(G.GetTaskDocument, { id })).task,
    tasks: async (variables = {}) => (await call<G.ListTasksResult>(G.ListTasksDocument, variables)).tasks,
    approve: async (input) => (await call<G.ApproveResult>(G.ApproveDocument, { input })).approve,
    approveBatch: async (decisions, options = {}) =>
      (await call<G.ApproveBatchResult>(G.ApproveBatchDocument, { input: { decisions, ...options } })).approveBatch,
    undo: async (taskId, stepId = null) => (await call<G.UndoResult>(G.UndoDocument, { taskId, stepId })).undo,
    undoPlan: async (taskId, stepId = null) => (await call<G.UndoPlanResult>(G.UndoPlanDocument, { taskId, stepId })).undoPlan,
    cancelTask: async (taskId) => (await call<G.CancelTaskResult>(G.CancelTaskDocument, { taskId })).cancelTask,
    taskEvents: async (taskId, { after = 0, limit = 100 } = {}) =>
      (await call<G.TaskEventsResult>(G.TaskEventsDocument, { taskId, after, limit })).taskEvents,
    approvals: async (variables = {}) => (await call<G.ApprovalsResult>(G.ApprovalsDocument, variables)).approvals,
    me: async () => (await call<G.MeResult>(G.MeDocument, {})).me,
    watch(taskId) {
      const wait = options.pollWaitSeconds ?? 25;
      const watch = new TaskWatch({
        ...feedOptions(),
        taskId,
        storage,
        storageKey: `agentwire:${base}:task:${taskId}`,
        pollEvents: async (after, signal) => {
          const url = `${base}/api/agent/${encodeURIComponent(taskId)}/events?after=${after}&wait=${wait}&limit=500`;
          return (await getRest<{ events: Record<string, unknown>[] }>(url, tokens, fetchImpl, signal)).events;
        },
        fetchTask: async () => (await call<G.GetTaskResult>(G.GetTaskDocument, { id: taskId })).task as TaskState | null,
      });
      feeds.add(watch);
      watch.on('status', (s) => s === 'closed' && feeds.delete(watch));
      return watch;
    },
    watchAll() {
      const watch = new AllTasksWatch({ ...feedOptions(), storage, storageKey: `agentwire:${base}:all` });
      feeds.add(watch);
      watch.on('status', (s) => s === 'closed' && feeds.delete(watch));
      return watch;
    },
    get isSocketOwner() {
      return tabs ? tabs.leader : true;
    },
    close() {
      for (const feed of [...feeds]) feed.close();
      transport?.dispose();
      transport = undefined;
    },
  };
}
