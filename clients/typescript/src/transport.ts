import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';
import type { TokenSource } from './token.js';

export interface SubscriptionRequest {
  query: string;
  variables: Record<string, unknown>;
}

/** The outcome of a subscription that ended: the server refused it, or the connection went away. */
export type SubscriptionEnd =
  | { kind: 'refused'; errors: unknown }
  | { kind: 'lost'; code?: number; reason?: string };

export interface SubscriptionSink {
  next(payload: { data?: unknown; errors?: unknown }): void;
  end(end: SubscriptionEnd): void;
}

/**
 * Carries subscriptions over one socket. Implementations never retry on their own: a
 * subscription whose socket closes ends with `lost`, and its owner resubscribes with its
 * own cursor (graphql-ws's built-in retry re-sends the original variables, which are stale).
 */
export interface Transport {
  readonly connected: boolean;
  subscribe(request: SubscriptionRequest, sink: SubscriptionSink): () => void;
  onConnection(listener: (connected: boolean) => void): () => void;
  dispose(): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocket;

export interface DirectTransportOptions {
  url: string;
  tokens: TokenSource;
  webSocketImpl?: WebSocketConstructor | undefined;
  /** Keep an idle socket this long after its last subscription ends (default 2000 ms). */
  lazyCloseMs?: number;
}

/** One graphql-ws socket, opened on the first subscription; a closed socket is never reused. */
export class DirectTransport implements Transport {
  private ws: WsClient | null = null;
  private listeners = new Set<(connected: boolean) => void>();
  private isConnected = false;
  private disposed = false;

  constructor(private readonly options: DirectTransportOptions) {}

  get connected(): boolean {
    return this.isConnected;
  }

  onConnection(listener: (connected: boolean) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  subscribe(request: SubscriptionRequest, sink: SubscriptionSink): () => void {
    if (this.disposed) {
      queueMicrotask(() => sink.end({ kind: 'lost', reason: 'client closed' }));
      return () => {};
    }
    let ended = false;
    const end = (value: SubscriptionEnd): void => {
      if (!ended) {
        ended = true;
        sink.end(value);
      }
    };
    const stop = this.client().subscribe(request, {
      next: (payload) => {
        if (!ended) sink.next(payload as { data?: unknown; errors?: unknown });
      },
      error: (error: unknown) => {
        if (Array.isArray(error)) end({ kind: 'refused', errors: error });
        else end(closeInfo(error));
      },
      // A subscription never completes by itself: this is a closed socket.
      complete: () => end({ kind: 'lost', reason: 'socket closed' }),
    });
    return () => {
      ended = true;
      stop();
    };
  }

  dispose(): void {
    this.disposed = true;
    void this.ws?.dispose();
    this.ws = null;
    this.setConnected(false);
  }

  private client(): WsClient {
    if (this.ws) return this.ws;
    const { url, tokens, webSocketImpl } = this.options;
    const ws: WsClient = createWsClient({
      url,
      lazy: true,
      lazyCloseTimeout: this.options.lazyCloseMs ?? 2000,
      retryAttempts: 0,
      shouldRetry: () => false,
      webSocketImpl: webSocketImpl ?? globalThis.WebSocket,
      connectionParams: async () => ({ authorization: `Bearer ${await tokens.get()}` }),
      on: {
        connected: () => {
          if (this.ws === ws) this.setConnected(true);
        },
        closed: (event) => {
          if ((event as { code?: number } | undefined)?.code === 4403) tokens.invalidate();
          if (this.ws !== ws) return;
          this.ws = null;
          this.setConnected(false);
          // Disposing stops graphql-ws from reconnecting by itself (it would on 1000).
          void ws.dispose();
        },
      },
    });
    this.ws = ws;
    return ws;
  }

  private setConnected(connected: boolean): void {
    if (connected === this.isConnected) return;
    this.isConnected = connected;
    for (const listener of [...this.listeners]) listener(connected);
  }
}

function closeInfo(error: unknown): SubscriptionEnd {
  const event = error as { code?: unknown; reason?: unknown } | null;
  const code = typeof event?.code === 'number' ? event.code : undefined;
  const reason = typeof event?.reason === 'string' ? event.reason : error instanceof Error ? error.message : undefined;
  return { kind: 'lost', code, reason };
}
