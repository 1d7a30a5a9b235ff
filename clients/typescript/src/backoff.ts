/** Exponential backoff with full jitter: a random wait from 0 up to min(max, initial * 2^attempt). */
export interface BackoffOptions {
  /** The cap of the first retry's wait, in milliseconds (default 500). */
  initialMs?: number;
  /** The largest wait, in milliseconds (default 15000). */
  maxMs?: number;
}

export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const initial = options.initialMs ?? 500;
  const max = options.maxMs ?? 15_000;
  const cap = Math.min(max, initial * 2 ** Math.max(0, attempt));
  return Math.floor(random() * cap);
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
