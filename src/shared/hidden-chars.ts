/**
 * Characters that change how text reads without being seen. Bidirectional controls reorder what
 * is shown around them: a line of code reads one way and compiles another (Trojan Source,
 * CVE-2021-42574), and `invoice<U+202E>txt.sh` shows as `invoicehs.txt`. Invisible ones hide inside
 * a word or break a line where none shows. The CLI prints them escaped (`terminal.ts`), the web UI
 * as markers (`web/src/lib/hidden-chars.ts`). The zero-width joiner and non-joiner are left alone:
 * emoji sequences and several scripts need them.
 *
 * Each is the body of a RegExp character class, so that each side builds the expression it needs.
 */

/** Embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), and the marks ALM, LRM and RLM. */
export const BIDI_CONTROLS = '\\u061c\\u200e\\u200f\\u202a-\\u202e\\u2066-\\u2069';

/** Zero-width space, word joiner and the invisible operators, zero-width no-break space (BOM), line and paragraph separators. */
export const INVISIBLE_CHARS = '\\u200b\\u2060-\\u2064\\ufeff\\u2028\\u2029';
