// The task monitor page served by agentwire at `/`: built from the SDK (npm run monitor:build).
import { createClient, type AgentwireClient, type JsonValue, type SubmitTaskInput, type TaskState, type TaskStatus } from '../src/index.js';
import type { TaskWatch } from '../src/watch.js';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const TOKEN_KEY = 'agentwire:monitor:token';
const TASK_KEY = 'agentwire:monitor:task';
const FINISHED: TaskStatus[] = ['COMPLETED', 'FAILED', 'CANCELLED', 'ROLLED_BACK'];

let client: AgentwireClient | undefined;
let watch: TaskWatch | undefined;
let countdownTimer: ReturnType<typeof setInterval> | undefined;
let editedFor: string | undefined;

function el(tag: string, attrs: Record<string, string> = {}, text?: string): HTMLElement {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  if (text !== undefined) node.textContent = text;
  return node;
}

function showError(id: string, error: unknown): void {
  const e = error as { message?: string; hint?: string };
  $(id).textContent = e?.message ? `${e.message}${e.hint ? ` (${e.hint})` : ''}` : String(error);
}

async function signIn(token: string): Promise<void> {
  $('signin-error').textContent = '';
  const candidate = createClient({ url: location.origin, token });
  try {
    await candidate.me();
  } catch (error) {
    candidate.close();
    showError('signin-error', error);
    return;
  }
  client = candidate;
  // Which tab holds the shared socket (the browser tests close that one).
  (window as { __agentwireSocketOwner?: () => boolean }).__agentwireSocketOwner = () => candidate.isSocketOwner;
  sessionStorage.setItem(TOKEN_KEY, token);
  $('signin').hidden = true;
  $('app').hidden = false;
  const all = client.watchAll();
  let pending: ReturnType<typeof setTimeout> | undefined;
  all.on('event', () => {
    clearTimeout(pending);
    pending = setTimeout(() => void refreshHistory(), 150);
  });
  await refreshHistory();
  const last = sessionStorage.getItem(TASK_KEY);
  if (last) select(last);
}

async function refreshHistory(): Promise<void> {
  if (!client) return;
  const status = ($('filter') as HTMLSelectElement).value as TaskStatus | '';
  const page = await client.tasks({ status: status || null, first: 20 });
  const list = $('history');
  list.replaceChildren(
    ...page.edges.map(({ node }) => {
      const row = el('li', { 'data-testid': 'task-row', 'data-task-id': node.id });
      if (node.id === watch?.taskId) row.classList.add('selected');
      row.append(el('span', {}, node.task), el('span', { class: 'badge', 'data-testid': 'task-status' }, node.status));
      row.addEventListener('click', () => select(node.id));
      return row;
    }),
  );
}

function select(taskId: string): void {
  if (!client) return;
  watch?.close();
  editedFor = undefined;
  sessionStorage.setItem(TASK_KEY, taskId);
  const current = (watch = client.watch(taskId));
  $('detail').hidden = false;
  $('detail').dataset.seqs = '';
  $('detail').dataset.taskId = taskId;
  $('undo-plan-box').replaceChildren();
  $('detail-error').textContent = '';
  setConnection(current.status);
  current.on('status', setConnection);
  // The seqs this page applied, for anyone checking that nothing came twice.
  const seqs: number[] = [];
  current.on('event', (event) => {
    if (event.seq !== null) seqs.push(event.seq);
    $('detail').dataset.seqs = seqs.join(',');
    render(current);
  });
  current.on('error', (error) => showError('detail-error', error));
  render(current);
  for (const row of document.querySelectorAll<HTMLElement>('#history li')) {
    row.classList.toggle('selected', row.dataset.taskId === taskId);
  }
}

function setConnection(status: string): void {
  const node = document.querySelector<HTMLElement>('[data-testid=connection-status]') as HTMLElement;
  node.textContent = status;
  node.className = `conn ${status}`;
}

function render(current: TaskWatch): void {
  if (current !== watch) return;
  const task = current.state;
  if (!task) return;
  $('detail-title').textContent = task.task;
  $('detail-status').textContent = task.status;
  const queue = $('queue');
  queue.hidden = task.queuePosition === null;
  if (task.queuePosition !== null) {
    const wait = task.estimatedWaitTime === null ? '' : `, about ${Math.ceil(task.estimatedWaitTime)} s to start`;
    queue.textContent = `Queue position ${task.queuePosition}${wait}`;
  }
  ($('task-progress') as HTMLProgressElement).value = task.progress;
  $('steps').replaceChildren(
    ...task.steps.map((step) => {
      const row = el('li', { 'data-testid': 'step-row', 'data-step-id': step.id });
      const head = el('div', { class: 'row' });
      head.append(el('span', {}, step.name), el('span', { class: 'badge' }, step.status));
      const bar = el('progress', { 'data-testid': 'step-progress', max: '1' }) as HTMLProgressElement;
      bar.value = step.progress;
      row.append(head, bar);
      return row;
    }),
  );
  renderApproval(task);
  ($('cancel') as HTMLButtonElement).disabled = FINISHED.includes(task.status);
  ($('undo') as HTMLButtonElement).disabled = !['COMPLETED', 'FAILED', 'CANCELLED'].includes(task.status);
  $('logs').replaceChildren(...task.logs.map((log) => el('li', {}, `${log.level}: ${log.message}`)));
}

function renderApproval(task: TaskState): void {
  const box = $('approval');
  const approval = task.pendingApproval;
  if (!approval) {
    box.replaceChildren();
    clearInterval(countdownTimer);
    return;
  }
  if (box.dataset.approvalId === approval.id && box.childElementCount) return;
  box.dataset.approvalId = approval.id;
  const card = el('div', { class: 'approval', 'data-testid': 'approval-card' });
  const countdown = el('p', { 'data-testid': 'approval-countdown' });
  const params = el('textarea', { 'data-testid': 'edit-parameters', rows: '4', 'aria-label': 'Parameters' }) as HTMLTextAreaElement;
  params.value = JSON.stringify(approval.parameters, null, 2);
  params.addEventListener('input', () => (editedFor = approval.id));
  const actions = el('div', { class: 'actions' });
  const approve = el('button', { 'data-testid': 'approve' }, 'Approve');
  const reject = el('button', { 'data-testid': 'reject', class: 'secondary' }, 'Reject');
  actions.append(approve, reject);
  card.append(el('strong', {}, approval.prompt), countdown, params, actions);
  box.replaceChildren(card);
  const tick = (): void => {
    const left = Math.max(0, Math.round((Date.parse(approval.expiresAt) - Date.now()) / 1000));
    countdown.textContent = `Expires in ${Math.floor(left / 60)}:${String(left % 60).padStart(2, '0')}`;
  };
  tick();
  clearInterval(countdownTimer);
  countdownTimer = setInterval(tick, 1000);
  const answer = async (approved: boolean): Promise<void> => {
    if (!client) return;
    $('detail-error').textContent = '';
    let modifiedParameters: JsonValue | null = null;
    if (approved && editedFor === approval.id) {
      try {
        modifiedParameters = JSON.parse(params.value) as JsonValue;
      } catch {
        $('detail-error').textContent = 'The parameters are not valid JSON.';
        return;
      }
    }
    try {
      await client.approve({ taskId: task.id, approvalId: approval.id, approved, modifiedParameters });
    } catch (error) {
      showError('detail-error', error);
    }
  };
  approve.addEventListener('click', () => void answer(true));
  reject.addEventListener('click', () => void answer(false));
}

function parseSubmission(text: string): SubmitTaskInput {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    const parsed = JSON.parse(trimmed) as SubmitTaskInput;
    if (typeof parsed.task !== 'string') throw new Error('a JSON submission needs a "task" string');
    return parsed;
  }
  return { task: trimmed };
}

$('signin-button').addEventListener('click', () => void signIn(($('token') as HTMLInputElement).value.trim()));
$('token').addEventListener('keydown', (e) => {
  if (e.key === 'Enter') void signIn(($('token') as HTMLInputElement).value.trim());
});
$('submit').addEventListener('click', async () => {
  if (!client) return;
  $('submit-error').textContent = '';
  try {
    const task = await client.submitTask(parseSubmission(($('task-text') as HTMLTextAreaElement).value));
    ($('task-text') as HTMLTextAreaElement).value = '';
    select(task.id);
    await refreshHistory();
  } catch (error) {
    showError('submit-error', error);
  }
});
$('filter').addEventListener('change', () => void refreshHistory());
$('cancel').addEventListener('click', async () => {
  if (!client || !watch) return;
  try {
    await client.cancelTask(watch.taskId);
  } catch (error) {
    showError('detail-error', error);
  }
});
$('undo').addEventListener('click', async () => {
  if (!client || !watch) return;
  const taskId = watch.taskId;
  try {
    const plan = await client.undoPlan(taskId);
    const box = el('div', { 'data-testid': 'undo-plan', class: 'approval' });
    if (!plan.possible) {
      box.append(el('p', {}, `Undo is not possible: ${plan.reason ?? ''} ${plan.hint ?? ''}`));
    } else {
      box.append(el('p', {}, 'Undo will roll back, in this order:'));
      const list = el('ol');
      list.append(...plan.steps.map((s) => el('li', {}, `${s.name} (${s.status})`)));
      const confirm = el('button', { 'data-testid': 'undo-confirm' }, 'Roll these back');
      confirm.addEventListener('click', async () => {
        try {
          await client?.undo(taskId);
          $('undo-plan-box').replaceChildren();
        } catch (error) {
          showError('detail-error', error);
        }
      });
      box.append(list, confirm);
    }
    $('undo-plan-box').replaceChildren(box);
  } catch (error) {
    showError('detail-error', error);
  }
});

const saved = sessionStorage.getItem(TOKEN_KEY);
if (saved) void signIn(saved);
