/**
 * Where the credential comes from: a fixed token, or `getToken()` called again before the
 * current one expires and whenever the server refused it (HTTP 401, WebSocket close 4403).
 */
export class TokenSource {
  private cached: string | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly fixed: string | undefined,
    private readonly getToken: (() => Promise<string> | string) | undefined,
    /** Refresh this many seconds before `exp`. */
    private readonly refreshBeforeSeconds = 30,
  ) {
    if (!fixed && !getToken) throw new TypeError('createClient needs a token or getToken');
  }

  async get(): Promise<string> {
    if (this.fixed !== undefined && !this.getToken) return this.fixed;
    if (this.cached && !expiresSoon(this.cached, this.refreshBeforeSeconds)) return this.cached;
    // One refresh at a time, however many callers ask at once.
    this.pending ??= Promise.resolve(this.getToken ? this.getToken() : (this.fixed as string)).finally(() => {
      this.pending = undefined;
    });
    this.cached = await this.pending;
    return this.cached;
  }

  /** The server refused the current token: ask for a new one next time. */
  invalidate(): void {
    if (this.getToken) this.cached = undefined;
  }

  /** The token's subject (`sub`), when it is a readable JWT; used to keep users' tabs apart. */
  async subject(): Promise<string> {
    const claims = decodeClaims(await this.get());
    return typeof claims?.sub === 'string' ? claims.sub : 'anonymous';
  }
}

function decodeClaims(token: string): Record<string, unknown> | undefined {
  const part = token.split('.')[1];
  if (!part) return undefined;
  try {
    const json = atob(part.replace(/-/g, '+').replace(/_/g, '/'));
    const claims: unknown = JSON.parse(json);
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function expiresSoon(token: string, marginSeconds: number): boolean {
  const exp = decodeClaims(token)?.exp;
  return typeof exp === 'number' && exp - marginSeconds <= Date.now() / 1000;
}
