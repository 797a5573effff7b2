#!/usr/bin/env node
import { registerCredential } from './commands/credential.js';
import { registerDiff } from './commands/diff.js';
import { registerDockerCommand } from './commands/docker-command.js';
import { registerIngest } from './commands/ingest.js';
import { registerJobs } from './commands/jobs.js';
import { registerLand } from './commands/land.js';
import { registerPool } from './commands/pool.js';
import { registerPush } from './commands/push.js';
import { registerRepoCommands } from './commands/repos.js';
import { registerRunner } from './commands/runner.js';
import { registerRunners } from './commands/runners.js';
import { registerServer } from './commands/server.js';
import { rootProgram, runProgram } from './program.js';

const program = rootProgram();

registerServer(program);
registerIngest(program);
registerPush(program);
registerLand(program);
registerRepoCommands(program);
registerJobs(program);
registerDiff(program);
registerRunners(program);
registerPool(program);
registerDockerCommand(program);
registerCredential(program);
registerRunner(program);

await runProgram(program, process.argv);
