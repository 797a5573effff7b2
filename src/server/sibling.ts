import { fileURLToPath } from 'node:url';

/** Whether this process runs the TypeScript sources (the tests, under tsx) rather than the build. */
export const FROM_SOURCE = import.meta.url.endsWith('.ts');

/**
 * A module of this package beside the caller, from the tree that is running now: src/ under tsx,
 * dist/ after a build. The other tree's copy may be a stale build, which would run old code quietly.
 */
export function siblingModule(callerUrl: string, relativeWithoutExtension: string): string {
  return fileURLToPath(new URL(`${relativeWithoutExtension}${FROM_SOURCE ? '.ts' : '.js'}`, callerUrl));
}

/** Node flags a child process needs to run what `siblingModule` names: tsx's loader from the sources. */
export function childExecArgv(): string[] {
  return FROM_SOURCE ? ['--import', import.meta.resolve('tsx')] : [];
}
