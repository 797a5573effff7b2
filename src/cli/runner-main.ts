/**
 * The runner image's entry point: `lazyaf runner` alone, so `docker run IMAGE [flags]` passes its
 * flags to the runner. `npm run build` bundles it with its packages into one file
 * (dist/bundle/runner.mjs): a container starts it without node_modules, and without opening the
 * hundreds of module files that cost `lazyaf runner` about 0.6 s of CPU at every start.
 */
import { registerRunner } from './commands/runner.js';
import { rootProgram, runProgram } from './program.js';

function runnerProgram() {
  const program = rootProgram();
  registerRunner(program);
  // `lazyaf runner --help` in the image: main.ts's list of commands, which holds the summaries, is not in this bundle.
  program.commands[0]?.description('the lazyaf runner of this image: registers with the server, runs one job at a time, pushes results to its git server');
  return program;
}

await runProgram(runnerProgram, [...process.argv.slice(0, 2), 'runner', ...process.argv.slice(2)]);
