/**
 * Text from the server (titles, error messages, branch names, job logs) comes from jobs and
 * runners, which are untrusted: printed raw, an escape sequence could retitle the terminal, move
 * the cursor to hide lines, write to the clipboard (OSC 52) or fake a link. These helpers make
 * such text harmless to print.
 */
import { BIDI_CONTROLS, INVISIBLE_CHARS } from './hidden-chars.js';

/** C0 and C1 controls, DEL, bidi controls (which reorder what is shown) and invisible characters. */
const UNSAFE_CHAR = new RegExp(`[\\x00-\\x1f\\x7f-\\x9f${BIDI_CONTROLS}${INVISIBLE_CHARS}]`, 'g');

/** `\n`, `\t`, `\x1b`, `\u202e`: a control character shown as what it is. */
function visible(c: string): string {
  if (c === '\n') return '\\n';
  if (c === '\t') return '\\t';
  if (c === '\r') return '\\r';
  const code = c.charCodeAt(0);
  return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** One value on one line: every control character is shown escaped, none reaches the terminal. */
export function printable(value: string | number | null | undefined): string {
  return String(value ?? '').replace(UNSAFE_CHAR, visible);
}

const JSON_UNSAFE = new RegExp(`[\\x7f-\\x9f${BIDI_CONTROLS}${INVISIBLE_CHARS}]`, 'g');

/**
 * JSON for a terminal: JSON.stringify leaves DEL, C1 controls, bidi controls and invisible
 * characters raw; these are escaped too, still valid JSON. `indent` 0 gives one line (JSON lines).
 */
export function jsonForTerminal(value: unknown, indent = 2): string {
  return JSON.stringify(value, null, indent).replace(JSON_UNSAFE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** An escape sequence: CSI, OSC (ended by BEL or ST), DCS/SOS/PM/APC (ended by ST), or a two-character escape. */
const SEQUENCE = '\\x1b(?:\\[[0-?]*[ -/]*[@-~]|\\][^\\x07\\x1b]*(?:\\x07|\\x1b\\\\)|[PX^_][^\\x1b]*\\x1b\\\\|[ -/]*[0-~])';
const LOG_UNSAFE = new RegExp(`${SEQUENCE}|[\\x00-\\x08\\x0b-\\x0c\\x0e-\\x1f\\x7f-\\x9f${BIDI_CONTROLS}${INVISIBLE_CHARS}]`, 'g');
/** Select Graphic Rendition: colours, bold, underline. Nothing else. */
const SGR = /^\x1b\[[0-9;:]*m$/;
/** The start of a sequence that the next chunk may complete. */
const INCOMPLETE = /\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*\x1b?|[PX^_][^\x1b]*\x1b?|[ -/]*)$/;
/** An unfinished sequence held longer than this is dropped rather than buffered without end. */
const MAX_HELD = 4096;

/**
 * A job log made safe to print as it streams. A log is the command's own output, so its colours
 * (SGR) are kept, and so are newlines, tabs and carriage returns (progress bars); every other
 * escape sequence (titles, cursor moves, screen clears, hyperlinks, clipboard writes) is dropped,
 * and any other control character is shown escaped. A sequence cut between two chunks is held
 * until the next one; one still unfinished when the log ends is dropped.
 */
export class TerminalLogFilter {
  private held = '';

  write(chunk: string): string {
    let text = this.held + chunk;
    this.held = '';
    const tail = INCOMPLETE.exec(text);
    if (tail && text.length - tail.index <= MAX_HELD) {
      this.held = text.slice(tail.index);
      text = text.slice(0, tail.index);
    }
    return text.replace(LOG_UNSAFE, (m) => (SGR.test(m) ? m : m.startsWith('\x1b') && m.length > 1 ? '' : visible(m)));
  }
}
