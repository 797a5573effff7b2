/**
 * Why a fetch failed: undici throws a bare "fetch failed" and keeps the reason in `cause`, as a
 * code where Node has one (ECONNREFUSED, ENOTFOUND) or else as a message.
 */
export function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
