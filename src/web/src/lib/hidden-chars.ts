import { BIDI_CONTROLS, INVISIBLE_CHARS } from '../../../shared/hidden-chars.js';

/**
 * Text from a job or a repo with every character that would change how it reads unseen shown as
 * a marker, `<U+202E>`, as GitHub does: bidirectional controls, invisible characters, and control
 * characters but tab, newline and carriage return (a CRLF file's lines end in one). The view
 * puts each piece in a text node (`components/Text.svelte`), a marker in a styled span.
 */

const CLASS = `[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f\\x7f-\\x9f${BIDI_CONTROLS}${INVISIBLE_CHARS}]`;
const HIDDEN = new RegExp(CLASS);
const EACH_HIDDEN = new RegExp(CLASS, 'g');
const BIDI = new RegExp(`[${BIDI_CONTROLS}]`);
const INVISIBLE = new RegExp(`[${INVISIBLE_CHARS}]`);

export type HiddenKind = 'bidirectional control' | 'invisible character' | 'control character';

/** A run of text as it is, or the marker of one hidden character (`hidden`: what kind, for its tooltip). */
export interface Piece {
  text: string;
  hidden?: HiddenKind;
}

const kindOf = (c: string): HiddenKind => (BIDI.test(c) ? 'bidirectional control' : INVISIBLE.test(c) ? 'invisible character' : 'control character');

/** `<U+202E>`: the character's code point. */
const markerOf = (c: string): string => `<U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}>`;

export const hasHidden = (text: string): boolean => HIDDEN.test(text);

/** Whether `text` holds a bidirectional control: what earns a warning, beyond the markers. */
export const hasBidi = (text: string): boolean => BIDI.test(text);

/** `text` in pieces, each hidden character its own marker piece; text without any is one piece. */
export function revealHidden(text: string): Piece[] {
  if (!HIDDEN.test(text)) return [{ text }];
  const pieces: Piece[] = [];
  let at = 0;
  for (const m of text.matchAll(EACH_HIDDEN)) {
    if (m.index > at) pieces.push({ text: text.slice(at, m.index) });
    pieces.push({ text: markerOf(m[0]), hidden: kindOf(m[0]) });
    at = m.index + 1;
  }
  if (at < text.length) pieces.push({ text: text.slice(at) });
  return pieces;
}

/** `text` with its markers, as one string: for where no span can go (an option's label). */
export const revealedText = (text: string): string => text.replace(EACH_HIDDEN, markerOf);

/** How many hidden characters `text` holds: each shows as a marker 8 characters wide. */
export const hiddenCount = (text: string): number => (HIDDEN.test(text) ? (text.match(EACH_HIDDEN)?.length ?? 0) : 0);
