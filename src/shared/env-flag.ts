/**
 * A 0-or-1 variable (LAZYAF_EPHEMERAL), read by the server for its pool and by each runner it
 * starts: one rule, so a value the server accepts is never one its runners refuse. Unset or empty
 * is 0; anything but 0 or 1 is an error rather than a guess ("true", "yes", "2").
 */
export function parseEnvFlag(name: string, value: string | undefined): boolean {
  if (value === undefined || value === '' || value === '0') return false;
  if (value === '1') return true;
  throw new Error(`${name} must be 0 or 1, got "${value}"`);
}
