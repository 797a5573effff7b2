/**
 * ANSI colours in a job log, turned into styled text segments (never markup: the view puts each
 * segment's text in a text node). Only SGR sequences (`ESC [ ... m`) change the look; every other
 * escape or control sequence (cursor moves, erase, OSC titles and links) is dropped, and a bidi
 * control or invisible character becomes a marker segment (`lib/hidden-chars.ts`). A style can
 * span lines, so each line is read from the style the previous line ended with (`endStyle`).
 */
import { hasHidden, hiddenCount, revealHidden } from '../lib/hidden-chars.js';

/** 0-15: the terminal palette (themed by the view's CSS classes); a string: a CSS colour. */
export type Colour = number | string;

export interface Style {
  readonly fg: Colour | null;
  readonly bg: Colour | null;
  readonly bold: boolean;
  readonly faint: boolean;
  readonly italic: boolean;
  readonly underline: boolean;
  readonly inverse: boolean;
}

export const PLAIN: Style = Object.freeze({ fg: null, bg: null, bold: false, faint: false, italic: false, underline: false, inverse: false });

/** A run of text in one style, ready for the view: CSS classes for the palette and attributes, inline colours for the rest. */
export interface Segment {
  text: string;
  classes: string;
  color: string | undefined;
  background: string | undefined;
}

/**
 * A CSI sequence (group 1: parameters, group 2: final byte), an OSC string, another escape, a
 * carriage return or a control character (C0 but tab and newline, DEL, C1).
 */
const TOKEN = /\x1b\[([0-?]*)[ -/]*([@-~])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]?|\r|[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/** Anything `segments` has to read token by token: an escape, a carriage return or another control character. */
const CONTROL = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/;

const CUBE = [0, 95, 135, 175, 215, 255];

/** A 256-colour palette entry: 0-15 stay palette indexes, the rest become rgb(). */
function palette256(n: number): Colour | null {
  if (!Number.isInteger(n) || n < 0 || n > 255) return null;
  if (n < 16) return n;
  if (n >= 232) {
    const grey = 8 + (n - 232) * 10;
    return `rgb(${grey},${grey},${grey})`;
  }
  const i = n - 16;
  return `rgb(${CUBE[Math.floor(i / 36)]},${CUBE[Math.floor(i / 6) % 6]},${CUBE[i % 6]})`;
}

const byte = (s: string | undefined): number | null => {
  const n = Number(s);
  return s !== undefined && s !== '' && Number.isInteger(n) && n >= 0 && n <= 255 ? n : null;
};

/**
 * Styles are interned (one object per look) and each style remembers where a parameter string
 * takes it, so a coloured 100,000-line log costs two map lookups per escape instead of building a
 * style each time (in a profile of such a log arriving live, applySgr went from 0.9 s to 34 ms). Both caches are
 * capped: a hostile log with endless true colours just stops being cached.
 */
const MAX_STYLES = 4096;
const MAX_MOVES_PER_STYLE = 64;
const styles = new Map<string, Style>();
const moves = new WeakMap<Style, Map<string, Style>>();

const keyOf = (s: Style): string => `${s.fg}|${s.bg}|${+s.bold}${+s.faint}${+s.italic}${+s.underline}${+s.inverse}`;
styles.set(keyOf(PLAIN), PLAIN);

function intern(style: Style): Style {
  const key = keyOf(style);
  const known = styles.get(key);
  if (known) return known;
  const frozen = Object.freeze(style);
  if (styles.size < MAX_STYLES) styles.set(key, frozen);
  return frozen;
}

/** The style after the SGR parameters `params` (the text between `ESC [` and `m`). */
export function applySgr(style: Style, params: string): Style {
  let known = moves.get(style);
  const cached = known?.get(params);
  if (cached) return cached;
  const next = intern(sgr(style, params));
  if (!known) moves.set(style, (known = new Map()));
  if (known.size < MAX_MOVES_PER_STYLE) known.set(params, next);
  return next;
}

function sgr(style: Style, params: string): Style {
  const codes = params === '' ? ['0'] : params.split(/[;:]/);
  const next = { ...style };
  for (let i = 0; i < codes.length; i++) {
    const code = codes[i] === '' ? 0 : Number(codes[i]);
    if (code === 0) Object.assign(next, PLAIN);
    else if (code === 1) next.bold = true;
    else if (code === 2) next.faint = true;
    else if (code === 3) next.italic = true;
    else if (code === 4) next.underline = true;
    else if (code === 7) next.inverse = true;
    else if (code === 22) next.bold = next.faint = false;
    else if (code === 23) next.italic = false;
    else if (code === 24) next.underline = false;
    else if (code === 27) next.inverse = false;
    else if (code >= 30 && code <= 37) next.fg = code - 30;
    else if (code >= 90 && code <= 97) next.fg = code - 90 + 8;
    else if (code === 39) next.fg = null;
    else if (code >= 40 && code <= 47) next.bg = code - 40;
    else if (code >= 100 && code <= 107) next.bg = code - 100 + 8;
    else if (code === 49) next.bg = null;
    else if (code === 38 || code === 48) {
      // 38;5;N (palette) or 38;2;R;G;B (true colour); a malformed one ends the sequence.
      let colour: Colour | null = null;
      if (codes[i + 1] === '5') {
        colour = palette256(Number(codes[i + 2]));
        i += 2;
      } else if (codes[i + 1] === '2') {
        const [r, g, b] = [byte(codes[i + 2]), byte(codes[i + 3]), byte(codes[i + 4])];
        colour = r !== null && g !== null && b !== null ? `rgb(${r},${g},${b})` : null;
        i += 4;
      } else break;
      if (colour === null) break;
      if (code === 38) next.fg = colour;
      else next.bg = colour;
    }
  }
  return next;
}

/** The style a line leaves for the next one; a line without escapes (most of them) costs one indexOf. */
export function endStyle(line: string, start: Style): Style {
  if (!line.includes('\x1b')) return start;
  let style = start;
  for (const m of line.matchAll(TOKEN)) if (m[2] === 'm') style = applySgr(style, m[1] ?? '');
  return style;
}

const looks = new WeakMap<Style, Omit<Segment, 'text'>>();

function segmentOf(text: string, style: Style, marker: boolean): Segment {
  let look = looks.get(style);
  if (!look) looks.set(style, (look = lookOf(style)));
  if (marker) return { text, ...look, classes: look.classes ? `${look.classes} hidden-char` : 'hidden-char' };
  return { text, ...look };
}

/** How the view shows a style: palette colours and attributes as classes, other colours inline. */
function lookOf(style: Style): Omit<Segment, 'text'> {
  let fg = style.fg;
  let bg = style.bg;
  const classes: string[] = [];
  if (style.inverse) {
    [fg, bg] = [bg, fg];
    // Inverse of the default colours: the view's classes know the log's own foreground and background.
    if (fg === null) classes.push('fg-inv');
    if (bg === null) classes.push('bg-inv');
  }
  if (typeof fg === 'number') classes.push(`fg${fg}`);
  if (typeof bg === 'number') classes.push(`bg${bg}`);
  if (style.bold) classes.push('bold');
  if (style.faint) classes.push('faint');
  if (style.italic) classes.push('italic');
  if (style.underline) classes.push('underline');
  return { classes: classes.join(' '), color: typeof fg === 'string' ? fg : undefined, background: typeof bg === 'string' ? bg : undefined };
}

/**
 * A line's text in styled segments, read from `start`. A carriage return (a progress bar redrawing
 * itself) lets the text after it replace what came before, as a terminal shows the last redraw.
 */
export function segments(line: string, start: Style): Segment[] {
  const out: Segment[] = [];
  let style = start;
  let at = 0;
  let returned = false;
  const add = (text: string, marker: boolean) => {
    const last = out.at(-1);
    const seg = segmentOf(text, style, marker);
    if (last && last.classes === seg.classes && last.color === seg.color && last.background === seg.background) last.text += text;
    else out.push(seg);
  };
  const push = (text: string) => {
    if (!text) return;
    if (returned) {
      out.length = 0;
      returned = false;
    }
    if (!hasHidden(text)) return add(text, false);
    for (const piece of revealHidden(text)) add(piece.text, piece.hidden !== undefined);
  };
  if (CONTROL.test(line)) {
    for (const m of line.matchAll(TOKEN)) {
      push(line.slice(at, m.index));
      at = m.index + m[0].length;
      if (m[2] === 'm') style = applySgr(style, m[1] ?? '');
      else if (m[0] === '\r') returned = true;
    }
  }
  push(line.slice(at));
  return out;
}

/**
 * About how many columns a line takes (a tab counted as its widest, 8; a hidden character as its
 * marker, 8; redrawn text counted too), for the log's scroll width.
 */
export function lineWidth(line: string): number {
  const text = CONTROL.test(line) ? line.replace(TOKEN, '') : line;
  let tabs = 0;
  for (let i = text.indexOf('\t'); i >= 0; i = text.indexOf('\t', i + 1)) tabs++;
  return text.length + 7 * (tabs + hiddenCount(text));
}
