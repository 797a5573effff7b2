/**
 * The Prometheus text exposition format, version 0.0.4: the few rules a scraper holds us to, in one
 * place (HELP and TYPE once per family, escaped label values and help text, histograms as
 * cumulative `_bucket` series ending in `le="+Inf"`, then `_sum` and `_count`). Small enough that a
 * library for it would be more code to read than this.
 */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type Labels = Readonly<Record<string, string>>;

export type Family =
  | { name: string; help: string; type: 'gauge' | 'counter'; samples: { labels?: Labels; value: number }[] }
  | {
      name: string;
      help: string;
      type: 'histogram';
      histograms: { labels?: Labels; buckets: readonly number[]; counts: readonly number[]; sum: number; count: number }[];
    };

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Label values escape backslash, double quote and newline. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escapes backslash and newline only. */
function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

function labelText(labels: Labels | undefined, extra?: [string, string]): string {
  const pairs = Object.entries(labels ?? {});
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return '';
  for (const [k] of pairs) if (!LABEL_RE.test(k) || k.startsWith('__')) throw new Error(`invalid label name: ${k}`);
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

/**
 * One family's lines. A histogram's `counts[i]` is the number of observations in bucket i alone
 * (≤ buckets[i] and > buckets[i-1]); the output is cumulative, as the format requires, and the
 * last, `+Inf`, equals `count`.
 */
export function formatFamily(family: Family): string {
  if (!NAME_RE.test(family.name)) throw new Error(`invalid metric name: ${family.name}`);
  const lines = [`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`];
  if (family.type === 'histogram') {
    for (const h of family.histograms) {
      let cumulative = 0;
      h.buckets.forEach((le, i) => {
        cumulative += h.counts[i] ?? 0;
        lines.push(`${family.name}_bucket${labelText(h.labels, ['le', formatValue(le)])} ${cumulative}`);
      });
      lines.push(`${family.name}_bucket${labelText(h.labels, ['le', '+Inf'])} ${h.count}`);
      lines.push(`${family.name}_sum${labelText(h.labels)} ${formatValue(h.sum)}`);
      lines.push(`${family.name}_count${labelText(h.labels)} ${h.count}`);
    }
  } else {
    for (const s of family.samples) lines.push(`${family.name}${labelText(s.labels)} ${formatValue(s.value)}`);
  }
  return lines.join('\n') + '\n';
}

export function formatFamilies(families: readonly Family[]): string {
  return families.map(formatFamily).join('');
}
