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

/** The body of every error answer (the API's ErrorBody): the status, its reason phrase and the message. */
export function errorBody(statusCode: number, message: string): { statusCode: number; error: string; message: string } {
  return { statusCode, error: httpReason(statusCode), message };
}

function httpReason(status: number): string {
  const reasons: Record<number, string> = {
    400: 'Bad Request',
    401: 'Unauthorized',
    403: 'Forbidden',
    404: 'Not Found',
    408: 'Request Timeout',
    409: 'Conflict',
    413: 'Payload Too Large',
    415: 'Unsupported Media Type',
    422: 'Unprocessable Entity',
    424: 'Failed Dependency',
    429: 'Too Many Requests',
    503: 'Service Unavailable',
  };
  return reasons[status] ?? 'Error';
}
