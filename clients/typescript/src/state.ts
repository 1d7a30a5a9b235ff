import type { EventFields, TaskFields, TaskEventType } from './generated.js';

/** A task event as the SDK hands it out (the `EventFields` selection). */
export type TaskEvent = EventFields;
/** A task as `watch()` keeps it: the SNAPSHOT's `TaskFields`, with each delta applied. */
export type TaskState = TaskFields;

/** `'STEP_PROGRESS'` → `'step_progress'`: the names `on()` listens for. */
export type LowerEventType = Lowercase<TaskEventType>;

const FINISHED_STEP = new Set(['COMPLETED', 'SKIPPED', 'ROLLED_BACK']);

/** The task after `event`; never mutates `state`. */
export function applyEvent(state: TaskState, event: TaskEvent): TaskState {
  const data = event.data;
  const next: TaskState = { ...state, steps: state.steps.map((s) => ({ ...s })) };
  if (event.seq !== null) next.lastSeq = event.seq;
  if (data.status) next.status = data.status;
  if (data.status && data.status !== 'PENDING') {
    next.queuePosition = null;
    next.estimatedWaitTime = null;
  }
  const step = data.step ? next.steps.find((s) => s.id === data.step?.id) : undefined;
  if (step && data.step) {
    if (data.step.status) step.status = data.step.status;
    if (data.step.progress !== null) step.progress = data.step.progress;
  }
  switch (event.type) {
    case 'STEP_COMPLETE':
      if (step) step.result = data.result;
      break;
    case 'COMPLETED':
      next.result = data.result;
      break;
    case 'ERROR':
      next.error = data.error;
      break;
    case 'QUEUE_UPDATE':
      next.queuePosition = data.queuePosition;
      next.estimatedWaitTime = data.estimatedWaitTime;
      break;
    case 'APPROVAL_REQUEST':
    case 'APPROVAL_RESOLVED':
    case 'APPROVAL_TIMEOUT':
      applyApproval(next, event);
      break;
    default:
      break;
  }
  if (data.message && event.type !== 'QUEUE_UPDATE') {
    next.logs = [...state.logs, { level: event.type === 'ERROR' ? 'error' : 'info', message: data.message, stepId: data.step?.id ?? null }];
  }
  next.progress = progressOf(next);
  const current = next.steps.find((s) => s.status === 'RUNNING' || s.status === 'AWAITING_APPROVAL');
  next.currentStep = current ? { id: current.id, name: current.name, status: current.status, progress: current.progress } : null;
  return next;
}

function applyApproval(next: TaskState, event: TaskEvent): void {
  const approval = event.data.approvalRequest;
  if (!approval) return;
  const known = next.approvals.find((a) => a.id === approval.id);
  // The watch's document (TaskSnapshot) selects expiresAt; plain EventFields do not.
  const expiresAt = (approval as { expiresAt?: string | null }).expiresAt ?? known?.expiresAt ?? '';
  const merged = {
    id: approval.id,
    stepId: approval.stepId,
    status: approval.status,
    prompt: approval.prompt,
    parameters: approval.parameters,
    modifiedParameters: approval.modifiedParameters,
    decidedBy: approval.decidedBy,
    decisionMessage: approval.message,
    expiresAt,
  };
  next.approvals = known ? next.approvals.map((a) => (a.id === approval.id ? merged : a)) : [...next.approvals, merged];
  if (approval.status === 'PENDING') {
    next.pendingApproval = { id: approval.id, stepId: approval.stepId, prompt: approval.prompt, parameters: approval.parameters, expiresAt };
  } else if (next.pendingApproval?.id === approval.id) {
    next.pendingApproval = null;
  }
}

/** The server's rule: finished steps count fully, the running one by its own progress. */
function progressOf(task: TaskState): number {
  if (task.steps.length === 0) return task.status === 'COMPLETED' ? 1 : 0;
  const done = task.steps.filter((s) => FINISHED_STEP.has(s.status)).length;
  const running = task.steps.filter((s) => s.status === 'RUNNING').reduce((sum, s) => sum + s.progress, 0);
  return Math.round(Math.min((done + running) / task.steps.length, 1) * 10_000) / 10_000;
}

/** A REST event (lower-case enums) in the GraphQL spelling the rest of the SDK uses. */
export function fromRestEvent(raw: Record<string, unknown>): TaskEvent {
  const upper = (value: unknown): unknown => (typeof value === 'string' ? value.toUpperCase() : value ?? null);
  const data = { ...(raw.data as Record<string, unknown>) };
  for (const key of ['status', 'previousStatus']) if (key in data) data[key] = upper(data[key]);
  if (data.step && typeof data.step === 'object') {
    const step = { ...(data.step as Record<string, unknown>) };
    step.status = upper(step.status);
    data.step = step;
  }
  if (data.approvalRequest && typeof data.approvalRequest === 'object') {
    const approval = { ...(data.approvalRequest as Record<string, unknown>) };
    approval.status = upper(approval.status);
    data.approvalRequest = approval;
  }
  const fields = ['taskId', 'status', 'previousStatus', 'step', 'progress', 'message', 'approvalRequest', 'result', 'error', 'queuePosition', 'estimatedWaitTime', 'resumeAfter'];
  const normalized: Record<string, unknown> = {};
  for (const key of fields) normalized[key] = data[key] ?? null;
  return {
    id: String(raw.id),
    version: Number(raw.version ?? 1),
    type: upper(raw.type) as TaskEvent['type'],
    seq: typeof raw.seq === 'number' ? raw.seq : null,
    timestamp: Number(raw.timestamp),
    priority: upper(raw.priority) as TaskEvent['priority'],
    cursor: typeof raw.cursor === 'string' ? raw.cursor : null,
    data: normalized as TaskEvent['data'],
  };
}
