import { AgentwireError, fromGraphQLErrors, isGraphQLErrorList } from './errors.js';
import type { TokenSource } from './token.js';

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** POST one GraphQL document to `/graphql`; a GraphQL error becomes an AgentwireError. */
export async function postGraphQL<T>(
  endpoint: string,
  tokens: TokenSource,
  fetchImpl: FetchLike,
  query: string,
  variables: object,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const response = await send(fetchImpl, endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json',
        authorization: `Bearer ${await tokens.get()}`,
      },
      body: JSON.stringify({ query, variables }),
      signal,
    });
    if (response.status === 401 && attempt === 0) {
      tokens.invalidate();
      continue;
    }
    const body = (await response.json().catch(() => null)) as { data?: T; errors?: unknown } | null;
    if (body && isGraphQLErrorList(body.errors)) throw fromGraphQLErrors(body.errors, response.status);
    if (!response.ok || !body || body.data === undefined || body.data === null) {
      throw new AgentwireError(`the server answered ${response.status}`, 'HTTP_ERROR', { status: response.status });
    }
    return body.data;
  }
}

/** GET a REST route under `/api` and unwrap its `{success, data}` envelope. */
export async function getRest<T>(
  url: string,
  tokens: TokenSource,
  fetchImpl: FetchLike,
  signal?: AbortSignal,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const response = await send(fetchImpl, url, {
      headers: { accept: 'application/json', authorization: `Bearer ${await tokens.get()}` },
      signal,
    });
    if (response.status === 401 && attempt === 0) {
      tokens.invalidate();
      continue;
    }
    const body = (await response.json().catch(() => null)) as
      | { success: true; data: T }
      | { success: false; error: { code: string; message: string; hint?: string } }
      | null;
    if (body && body.success) return body.data;
    if (body && !body.success) {
      throw new AgentwireError(body.error.message, body.error.code, { hint: body.error.hint, status: response.status });
    }
    throw new AgentwireError(`the server answered ${response.status}`, 'HTTP_ERROR', { status: response.status });
  }
}

async function send(fetchImpl: FetchLike, url: string, init: RequestInit): Promise<Response> {
  try {
    return await fetchImpl(url, init);
  } catch (error) {
    if (init.signal?.aborted) throw error;
    throw new AgentwireError(`could not reach ${url}: ${String(error)}`, 'NETWORK', {
      hint: 'check that the server runs and the URL is right',
    });
  }
}
