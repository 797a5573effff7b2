/**
 * The runner image's entry point: `lazyaf runner` alone, so `docker run IMAGE [flags]` passes its
 * flags to the runner. `npm run build` bundles it with its packages into one file
 * (dist/bundle/runner.mjs): a container starts it without node_modules, and without opening the
 * hundreds of module files that cost `lazyaf runner` about 0.6 s of CPU at every start.
 */
import { registerRunner } from './commands/runner.js';
import { rootProgram, runProgram } from './program.js';

const program = rootProgram();
registerRunner(program);
await runProgram(program, [...process.argv.slice(0, 2), 'runner', ...process.argv.slice(2)]);
