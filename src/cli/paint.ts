/** Paints text in a style: an SGR colour on a terminal, nothing otherwise. */
export type Paint<S extends string> = (text: string, style: S) => string;

/** Whether to colour what goes to stdout: on a terminal, unless NO_COLOR is set. */
export function colourWanted(): boolean {
  return Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;
}

/** A painter with the given SGR code per style when `colour`, else one that leaves text as it is. */
export function painter<S extends string>(colour: boolean, sgr: ReadonlyMap<S, string>): Paint<S> {
  return colour ? (text, style) => `\x1b[${sgr.get(style)}m${text}\x1b[0m` : (text) => text;
}
