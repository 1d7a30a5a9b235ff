/** What the server said when it refused a call, in one shape for GraphQL and REST. */
export class AgentwireError extends Error {
  /** A stable machine code: `NOT_FOUND`, `CONFLICT`, `VALIDATION`, `UNAUTHENTICATED`, `NETWORK`, … */
  readonly code: string;
  /** What to do about it, when the server gave a hint. */
  readonly hint: string | undefined;
  /** The HTTP status, for errors that came with one. */
  readonly status: number | undefined;

  constructor(message: string, code: string, options: { hint?: string; status?: number } = {}) {
    super(message);
    this.name = 'AgentwireError';
    this.code = code;
    this.hint = options.hint;
    this.status = options.status;
  }
}

interface GraphQLErrorLike {
  message: string;
  extensions?: { code?: unknown; hint?: unknown };
}

export function isGraphQLErrorList(value: unknown): value is GraphQLErrorLike[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((e) => typeof e === 'object' && e !== null && typeof (e as GraphQLErrorLike).message === 'string')
  );
}

export function fromGraphQLErrors(errors: GraphQLErrorLike[], status?: number): AgentwireError {
  const first = errors[0] as GraphQLErrorLike;
  const code = typeof first.extensions?.code === 'string' ? first.extensions.code : 'GRAPHQL_ERROR';
  const hint = typeof first.extensions?.hint === 'string' ? first.extensions.hint : undefined;
  return new AgentwireError(first.message, code, { hint, status });
}
