import { messageOf } from './format.js';

/**
 * Puts `text` on the clipboard. The page is served from the server's own origin (127.0.0.1 or
 * https), a secure context, so the async Clipboard API is there; a browser that refuses still
 * gets a clear message instead of a silent no-op.
 */
export async function copyText(text: string): Promise<void> {
  if (!navigator.clipboard) throw new Error('this browser offers no clipboard here (the page needs https or localhost)');
  try {
    await navigator.clipboard.writeText(text);
  } catch (err) {
    throw new Error(`could not copy: ${messageOf(err)}`);
  }
}
