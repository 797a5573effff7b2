// How usage reads, the same in the CLI and the web UI. Typebox-free: the web UI imports it at run time.
import type { Usage } from './transcript.js';

/** 950 → "950", 12_345 → "12.3k", 4_500_000 → "4.5M" (999,999 is "1M", not "1000k"). */
export function formatTokens(n: number): string {
  if (n < 1000) return String(n);
  if (n < 999_950) return `${(n / 1000).toFixed(n < 10_000 ? 2 : 1).replace(/\.?0+$/, '')}k`;
  return `${(n / 1_000_000).toFixed(1).replace(/\.0$/, '')}M`;
}

/** Dollars with the cents a person reads, and more digits below one cent: "$1.23", "$0.0042". */
export function formatCost(usd: number): string {
  if (usd === 0) return '$0';
  if (usd < 0.01) return `$${usd.toPrecision(2)}`;
  return `$${usd.toFixed(2)}`;
}

/** One line: "claude-sonnet-4-5 · 12.3k in · 1.2k out · 3 turns · $0.04". */
export function usageLine(u: Usage): string {
  const parts: string[] = [];
  if (u.model) parts.push(u.model);
  parts.push(`${formatTokens(u.input_tokens + (u.cache_read_tokens ?? 0) + (u.cache_write_tokens ?? 0))} in`, `${formatTokens(u.output_tokens)} out`);
  if (u.turns !== undefined) parts.push(`${u.turns} turn${u.turns === 1 ? '' : 's'}`);
  if (u.cost_usd !== undefined) parts.push(formatCost(u.cost_usd));
  return parts.join(' · ');
}
