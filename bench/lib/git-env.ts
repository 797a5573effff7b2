import fs from 'node:fs';
import path from 'node:path';

/**
 * A minimal environment for every git (and server) child: no user or system config can change
 * what is measured, and git never stops to ask for anything. `home` is a temp dir of the bench.
 */
export function isolatedGitEnv(home: string): NodeJS.ProcessEnv {
  const gitconfig = path.join(home, '.gitconfig');
  if (!fs.existsSync(gitconfig)) {
    fs.writeFileSync(gitconfig, '[init]\n\tdefaultBranch = main\n[user]\n\tname = lazyaf bench\n\temail = bench@example.test\n');
  }
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    LANG: 'C',
    LC_ALL: 'C',
    TMPDIR: process.env.TMPDIR ?? '/tmp',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: gitconfig,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: '',
    SSH_ASKPASS: '',
  };
}
