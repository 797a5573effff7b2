/** A failure the CLI reports as one line on stderr, then exits non-zero. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

/** The server refused a request: its message is the line, `status` lets a command say more for one it expects (a 404). */
export class RefusedError extends CliError {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}
