import type { SubscriptionEnd, SubscriptionRequest, SubscriptionSink, Transport } from './transport.js';

type Message =
  | { t: 'hello'; from: string }
  | { t: 'leader'; from: string; connected: boolean }
  | { t: 'conn'; from: string; connected: boolean }
  | { t: 'sub'; from: string; to: string; id: string; request: SubscriptionRequest }
  | { t: 'unsub'; from: string; id: string }
  | { t: 'next'; to: string; id: string; payload: { data?: unknown; errors?: unknown } }
  | { t: 'end'; to: string; id: string; end: SubscriptionEnd };

interface LocalSub {
  request: SubscriptionRequest;
  sink: SubscriptionSink;
  /** The leader it was sent to, or null while none is known. */
  sentTo: string | null;
}

/**
 * One socket for every tab of an origin: the tab holding a Web Lock is the leader and owns the
 * real transport; the others send their subscriptions to it over a BroadcastChannel. When the
 * leader goes away, another tab gets the lock and announces itself, and every tab's routed
 * subscriptions end as `lost`: their feeds resubscribe from their own cursors, so nothing is
 * lost and the feeds drop what they already had.
 */
export class TabSharedTransport implements Transport {
  private readonly tabId = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
  private readonly channel: BroadcastChannel;
  private leaderId: string | null = null;
  private leaderConnected = false;
  private isLeader = false;
  private direct: Transport | undefined;
  private directOff: (() => void) | undefined;
  private local = new Map<string, LocalSub>();
  private remote = new Map<string, () => void>();
  private listeners = new Set<(connected: boolean) => void>();
  private releaseLock: (() => void) | undefined;
  private nextId = 0;
  private disposed = false;

  constructor(
    key: string,
    private readonly makeDirect: () => Transport,
  ) {
    this.channel = new BroadcastChannel(`agentwire:${key}`);
    this.channel.onmessage = (event: MessageEvent<Message>) => this.receive(event.data);
    void navigator.locks.request(`agentwire-leader:${key}`, () => {
      if (this.disposed) return undefined;
      this.becomeLeader();
      return new Promise<void>((resolve) => (this.releaseLock = resolve));
    });
    this.post({ t: 'hello', from: this.tabId });
  }

  /** Whether this tab holds the socket. */
  get leader(): boolean {
    return this.isLeader;
  }

  get connected(): boolean {
    return this.isLeader ? (this.direct?.connected ?? false) : this.leaderConnected;
  }

  onConnection(listener: (connected: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  subscribe(request: SubscriptionRequest, sink: SubscriptionSink): () => void {
    if (this.isLeader && this.direct) return this.direct.subscribe(request, sink);
    const id = String(++this.nextId);
    const sub: LocalSub = { request, sink, sentTo: null };
    this.local.set(id, sub);
    this.send(id, sub);
    return () => {
      if (this.local.delete(id) && sub.sentTo) this.post({ t: 'unsub', from: this.tabId, id });
    };
  }

  dispose(): void {
    this.disposed = true;
    for (const stop of this.remote.values()) stop();
    this.remote.clear();
    this.directOff?.();
    this.direct?.dispose();
    this.releaseLock?.();
    this.channel.close();
  }

  private send(id: string, sub: LocalSub): void {
    if (!this.leaderId) return;
    sub.sentTo = this.leaderId;
    this.post({ t: 'sub', from: this.tabId, to: this.leaderId, id, request: sub.request });
  }

  private becomeLeader(): void {
    this.isLeader = true;
    this.leaderId = this.tabId;
    this.direct = this.makeDirect();
    this.directOff = this.direct.onConnection((connected) => {
      this.post({ t: 'conn', from: this.tabId, connected });
      this.notify(connected);
    });
    // Subscriptions routed to the old leader are gone with it; their feeds resubscribe here.
    this.loseRouted(() => true);
    this.post({ t: 'leader', from: this.tabId, connected: false });
  }

  private loseRouted(which: (sub: LocalSub) => boolean): void {
    for (const [id, sub] of [...this.local]) {
      if (!which(sub)) continue;
      if (sub.sentTo === null && !this.isLeader) continue;
      this.local.delete(id);
      sub.sink.end({ kind: 'lost', reason: 'the tab holding the socket went away' });
    }
  }

  private receive(message: Message): void {
    if (this.disposed) return;
    switch (message.t) {
      case 'hello':
        if (this.isLeader) this.post({ t: 'leader', from: this.tabId, connected: this.connected });
        return;
      case 'leader':
        if (this.isLeader || message.from === this.leaderId) return;
        this.loseRouted((sub) => sub.sentTo !== null && sub.sentTo !== message.from);
        this.leaderId = message.from;
        this.setLeaderConnected(message.connected);
        for (const [id, sub] of this.local) if (sub.sentTo === null) this.send(id, sub);
        return;
      case 'conn':
        if (message.from === this.leaderId && !this.isLeader) this.setLeaderConnected(message.connected);
        return;
      case 'sub':
        if (this.isLeader && this.direct && message.to === this.tabId) this.serve(message.from, message.id, message.request);
        return;
      case 'unsub': {
        const key = `${message.from}:${message.id}`;
        this.remote.get(key)?.();
        this.remote.delete(key);
        return;
      }
      case 'next':
        if (message.to === this.tabId) this.local.get(message.id)?.sink.next(message.payload);
        return;
      case 'end':
        if (message.to !== this.tabId) return;
        this.local.get(message.id)?.sink.end(message.end);
        this.local.delete(message.id);
        return;
    }
  }

  private serve(tab: string, id: string, request: SubscriptionRequest): void {
    const key = `${tab}:${id}`;
    this.remote.get(key)?.();
    const stop = (this.direct as Transport).subscribe(request, {
      next: (payload) => this.post({ t: 'next', to: tab, id, payload }),
      end: (end) => {
        this.remote.delete(key);
        this.post({ t: 'end', to: tab, id, end: JSON.parse(JSON.stringify(end)) as SubscriptionEnd });
      },
    });
    this.remote.set(key, stop);
  }

  private setLeaderConnected(connected: boolean): void {
    if (this.leaderConnected === connected) return;
    this.leaderConnected = connected;
    this.notify(connected);
  }

  private notify(connected: boolean): void {
    for (const listener of [...this.listeners]) listener(connected);
  }

  private post(message: Message): void {
    try {
      this.channel.postMessage(message);
    } catch {
      // A closed channel: this tab is going away.
    }
  }
}

/** Whether this environment can share one socket between tabs. */
export function canShareAcrossTabs(): boolean {
  return (
    typeof BroadcastChannel !== 'undefined' &&
    typeof navigator !== 'undefined' &&
    typeof (navigator as { locks?: unknown }).locks !== 'undefined' &&
    typeof window !== 'undefined'
  );
}
