/** The review view's keys, as the `?` list shows them. */
export const SHORTCUTS: readonly (readonly [key: string, what: string])[] = [
  ['j', 'next file'],
  ['k', 'previous file'],
  ['n', 'next comment'],
  ['p', 'previous comment'],
  ['c', 'comment on the focused line (else the current file’s first changed line)'],
  ['u', 'unified view'],
  ['s', 'split (side-by-side) view'],
  ['l', 'go to Land (Enter then lands)'],
  ['?', 'this list'],
];

/** The key a shortcut reads, or null: a key with Ctrl, Alt or Meta, or typed into a field, is the page's, not ours. */
export function shortcutKey(event: KeyboardEvent): string | null {
  if (event.defaultPrevented || event.ctrlKey || event.altKey || event.metaKey || event.isComposing) return null;
  const target = event.target;
  if (target instanceof HTMLElement && (target.isContentEditable || target.closest('input, textarea, select, [contenteditable], dialog'))) return null;
  return SHORTCUTS.some(([key]) => key === event.key) ? event.key : null;
}
