import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backoffDelay, createClient, type JsonValue, type TaskEvent, type WatchStatus } from '../src/index.js';
import { LiveServer, freePort, until } from './server.js';

const server = new LiveServer();
beforeAll(() => server.start());
afterAll(() => server.dispose());

function plan(steps: JsonValue[]): { task: string; context: JsonValue } {
  return { task: 'vitest task', context: { steps } };
}

describe('typed operations and watch', () => {
  it('watches a task from its snapshot, approves with an edited parameter, and sees it complete', async () => {
    const client = createClient({ url: server.url, token: server.token('alice'), storage: null });
    const submitted = await client.submitTask(
      plan([
        { name: 'first', action: 'note', params: { key: 'a', value: 1 } },
        { name: 'second', action: 'note', params: { key: 'b', value: 2 }, requiresApproval: true },
      ]),
    );
    const watch = client.watch(submitted.id);
    const seen: TaskEvent[] = [];
    watch.on('event', (e) => seen.push(e));
    // The request is in the state whether it came as an event or was already in the SNAPSHOT
    // (the engine may reach the gate before the socket subscribes).
    await until(() => watch.state?.pendingApproval != null, 'the approval request');
    const approval = watch.state!.pendingApproval!;
    await client.approve({ taskId: submitted.id, approvalId: approval.id, approved: true, modifiedParameters: { key: 'b', value: 3 } });
    await until(() => watch.state?.status === 'COMPLETED', 'the task to complete');
    expect(seen[0]!.type).toBe('SNAPSHOT');
    expect(watch.status).toBe('open');
    const stored = await client.taskEvents(submitted.id, { after: 0, limit: 100 });
    const afterSnapshot = stored.filter((e) => e.seq! > seen[0]!.seq!).map((e) => e.seq);
    expect(seen.slice(1).map((e) => e.seq)).toEqual(afterSnapshot);
    expect(watch.state!.steps.map((s) => s.status)).toEqual(['COMPLETED', 'COMPLETED']);
    expect(watch.state!.progress).toBe(1);
    const task = await client.task(submitted.id);
    expect(task!.artifacts).toEqual({ a: 1, b: 3 });
    expect(task!.approvals[0]!.status).toBe('MODIFIED');
    watch.close();
    expect(watch.status).toBe('closed');
    client.close();
  });

  it('shows the undo plan, undoes, cancels, and lists history by status', async () => {
    const client = createClient({ url: server.url, token: server.token('bob'), storage: null });
    const done = await client.submitTask(plan([{ name: 'only', action: 'note', params: { key: 'k', value: 'v' } }]));
    const watch = client.watch(done.id);
    await until(() => watch.state?.status === 'COMPLETED', 'completion');
    const undoPlan = await client.undoPlan(done.id);
    expect(undoPlan.possible).toBe(true);
    expect(undoPlan.steps.map((s) => s.name)).toEqual(['only']);
    await client.undo(done.id);
    await until(() => watch.state?.status === 'ROLLED_BACK', 'the rollback');
    expect(watch.state!.steps[0]!.status).toBe('ROLLED_BACK');
    watch.close();

    const waiting = await client.submitTask(plan([{ name: 'gate', action: 'note', params: { key: 'g', value: 1 }, requiresApproval: true }]));
    const gate = client.watch(waiting.id);
    await until(() => gate.state?.status === 'AWAITING_APPROVAL', 'the approval request');
    const cancelled = await client.cancelTask(waiting.id);
    expect(cancelled.status).toBe('CANCELLED');
    await until(() => gate.state?.status === 'CANCELLED', 'the cancel event');
    const history = await client.tasks({ status: 'CANCELLED' });
    expect(history.edges.map((e) => e.node.id)).toEqual([waiting.id]);
    await expect(client.cancelTask(waiting.id)).rejects.toMatchObject({ code: 'CONFLICT' });
    gate.close();
    client.close();
  });

  it('refuses an unknown task with NOT_FOUND and closes the watch', async () => {
    const client = createClient({ url: server.url, token: server.token('carol'), storage: null });
    const watch = client.watch('00000000-0000-0000-0000-000000000000');
    const errors: string[] = [];
    watch.on('error', (e) => errors.push(e.code));
    await until(() => watch.status === 'closed', 'the watch to close');
    expect(errors).toEqual(['NOT_FOUND']);
    client.close();
  });
});

describe('resilience', () => {
  it('resumes after a server restart mid-task with no duplicate and no gap', async () => {
    const client = createClient({ url: server.url, token: server.token('dave'), storage: null, backoff: { initialMs: 100, maxMs: 1000 } });
    const submitted = await client.submitTask(
      plan([
        { name: 'one', action: 'wait', params: { ms: 400 } },
        { name: 'two', action: 'wait', params: { ms: 400 } },
        { name: 'three', action: 'wait', params: { ms: 400 } },
      ]),
    );
    const watch = client.watch(submitted.id);
    const seen: TaskEvent[] = [];
    const statuses: WatchStatus[] = [];
    watch.on('event', (e) => seen.push(e));
    watch.on('status', (s) => statuses.push(s));
    await until(() => seen.some((e) => e.type === 'STEP_COMPLETE'), 'the first step');
    await server.stop();
    await until(() => watch.status === 'reconnecting' || watch.status === 'polling', 'the watch to notice');
    await server.start();
    await until(() => watch.state?.status === 'COMPLETED', 'completion after the restart', 40_000);
    const seqs = seen.slice(1).map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    const stored = (await client.taskEvents(submitted.id, { limit: 500 })).map((e) => e.seq).filter((s) => s! > seen[0]!.seq!);
    expect(seqs).toEqual(stored);
    expect(statuses).toContain('reconnecting');
    expect(watch.state!.steps.map((s) => s.status)).toEqual(['COMPLETED', 'COMPLETED', 'COMPLETED']);
    watch.close();
    client.close();
  });

  it('long-polls while the socket cannot connect and returns to it when it can', async () => {
    // A TCP proxy in front of the server's WebSocket that refuses until told otherwise.
    let accept = false;
    const sockets = new Set<Socket>();
    const proxy: Server = createServer((socket) => {
      if (!accept) return socket.destroy();
      const upstream = connect(server.port, '127.0.0.1');
      sockets.add(socket).add(upstream);
      socket.pipe(upstream).pipe(socket);
      socket.on('error', () => upstream.destroy());
      upstream.on('error', () => socket.destroy());
    });
    const port = await freePort();
    await new Promise<void>((r) => proxy.listen(port, '127.0.0.1', r));
    const client = createClient({
      url: server.url,
      wsUrl: `ws://127.0.0.1:${port}/graphql`,
      token: server.token('erin'),
      storage: null,
      backoff: { initialMs: 100, maxMs: 400 },
      pollWaitSeconds: 1,
    });
    const submitted = await client.submitTask(
      plan([
        { name: 'gate', action: 'note', params: { key: 'x', value: 1 }, requiresApproval: true },
        { name: 'after', action: 'note', params: { key: 'y', value: 2 }, requiresApproval: true },
      ]),
    );
    const watch = client.watch(submitted.id);
    const seen: TaskEvent[] = [];
    watch.on('event', (e) => seen.push(e));
    await until(() => watch.status === 'polling', 'the poll fallback');
    await until(() => !!watch.state?.pendingApproval && watch.state.pendingApproval.stepId === watch.state.steps[0]?.id, 'the first approval by polling');
    await client.approve({ taskId: submitted.id, approvalId: watch.state!.pendingApproval!.id, approved: true });
    await until(() => watch.state?.steps[0]?.status === 'COMPLETED' && !!watch.state.pendingApproval, 'the second approval by polling');
    accept = true;
    await until(() => watch.status === 'open', 'the socket to come back');
    await client.approve({ taskId: submitted.id, approvalId: watch.state!.pendingApproval!.id, approved: true });
    await until(() => watch.state?.status === 'COMPLETED', 'completion over the socket');
    const seqs = seen.map((e) => e.seq);
    const stored = (await client.taskEvents(submitted.id, { limit: 500 })).map((e) => e.seq).filter((s) => s! > seen[0]!.seq!);
    expect(seqs.slice(1)).toEqual(stored);
    watch.close();
    client.close();
    for (const s of sockets) s.destroy();
    await new Promise((r) => proxy.close(r));
  });

  it('backs off exponentially with full jitter', () => {
    expect(backoffDelay(0, { initialMs: 500, maxMs: 15_000 }, () => 0.999)).toBe(499);
    expect(backoffDelay(3, { initialMs: 500, maxMs: 15_000 }, () => 0.5)).toBe(2000);
    expect(backoffDelay(10, { initialMs: 500, maxMs: 15_000 }, () => 0.5)).toBe(7500);
    expect(backoffDelay(4, {}, () => 0)).toBe(0);
  });
});
