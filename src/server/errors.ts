/**
 * A refusal with the HTTP status and the one-line message the client should see; the routes, the
 * queue and the git server all throw it, and the error handlers send it as it is.
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}
