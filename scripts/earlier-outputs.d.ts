export const OUTPUTS_FILE: string;
/** Keeps `current` (names in `dir`) and the earlier files written within `maxAgeMs`; returns the names removed. */
export function pruneEarlierOutputs(dir: string, current: string[], now?: number, maxAgeMs?: number): string[];
/** The names the last build wrote in `dir`, or undefined before a build that lists them. */
export function currentOutputs(dir: string): string[] | undefined;
