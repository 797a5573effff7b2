// Loaded with import() once a diff is shown: highlight.js's core and the languages languageOf
// names, in a chunk of their own (the first page never loads it).
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import dockerfile from 'highlight.js/lib/languages/dockerfile';
import go from 'highlight.js/lib/languages/go';
import ini from 'highlight.js/lib/languages/ini';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import makefile from 'highlight.js/lib/languages/makefile';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import ruby from 'highlight.js/lib/languages/ruby';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

const LANGUAGES = { bash, c, cpp, css, dockerfile, go, ini, java, javascript, json, makefile, markdown, python, ruby, rust, sql, typescript, xml, yaml };
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);

/** Past this, a run of lines is shown plain: highlighting a minified line costs far more than it helps. */
const MAX_LINE_CHARS = 2000;

/**
 * `lines` (one side of a hunk, in order: a comment or a string may span them) as HTML, one string
 * per line. Every character of the lines reaches the HTML through highlight.js's escaping (of &, <,
 * >, " and '); the only markup is its own `<span class="hljs-...">`, closed at each line's end and
 * opened again on the next, so each line stands alone. Null when it cannot help (an unknown
 * language, a line too long).
 */
export function highlightLines(lines: readonly string[], language: string): string[] | null {
  if (!hljs.getLanguage(language) || lines.some((l) => l.length > MAX_LINE_CHARS)) return null;
  const html = hljs.highlight(lines.join('\n'), { language, ignoreIllegals: true }).value;
  return splitLines(html);
}

const TAG_RE = /<span class="[^"<>]*">|<\/span>|\n/g;

/** highlight.js's HTML cut at its newlines, each line closing the spans open at its end and the next opening them again. */
export function splitLines(html: string): string[] {
  const out: string[] = [];
  const open: string[] = [];
  let line = '';
  let at = 0;
  for (const m of html.matchAll(TAG_RE)) {
    line += html.slice(at, m.index);
    at = m.index + m[0].length;
    if (m[0] === '\n') {
      out.push(line + '</span>'.repeat(open.length));
      line = open.join('');
    } else if (m[0] === '</span>') {
      open.pop();
      line += m[0];
    } else {
      open.push(m[0]);
      line += m[0];
    }
  }
  out.push(line + html.slice(at) + '</span>'.repeat(open.length));
  return out;
}

/** The rows a file's highlighting reads: parse-diff's DiffRow, of which it needs only this. */
interface Row {
  kind: string;
  text: string;
  hidden: boolean;
}

/**
 * Each row's HTML, null for a row shown as text (a hunk header, a note, a line with hidden
 * characters, which Text shows with markers). Each hunk is highlighted twice, as the base's lines
 * (kept and removed) and as the job's (kept and added), so that a removed line reads in its own
 * context; a kept line takes the job's.
 */
export function highlightRows(rows: readonly Row[], language: string): (string | null)[] | null {
  const out: (string | null)[] = rows.map(() => null);
  let start = 0;
  while (start < rows.length) {
    let end = start;
    while (end < rows.length && rows[end]!.kind !== 'hunk') end++;
    for (const side of ['old', 'new'] as const) {
      const at: number[] = [];
      for (let i = start; i < end; i++) {
        const kind = rows[i]!.kind;
        if (kind === 'ctx' || kind === (side === 'old' ? 'del' : 'add')) at.push(i);
      }
      if (at.length === 0) continue;
      const html = highlightLines(
        at.map((i) => rows[i]!.text),
        language,
      );
      if (!html) return null;
      at.forEach((i, k) => {
        if (!rows[i]!.hidden && (side === 'new' || rows[i]!.kind === 'del')) out[i] = html[k] ?? null;
      });
    }
    start = end + 1;
  }
  return out;
}
