import { bareRepoPath, listBranches, resolveBranch } from './bare.js';

/**
 * Which branches each repo has, so that submitting a job does not spawn git every time. It only
 * speeds up the "yes": a branch it does not know is looked up in git before anyone is told no,
 * and every accepted push clears the repo's entry.
 */
export class BranchCache {
  private readonly known = new Map<string, Promise<Set<string>>>();

  constructor(private readonly reposDir: string) {}

  async has(repoId: string, branch: string): Promise<boolean> {
    let names = this.known.get(repoId);
    if (!names) {
      names = listBranches(bareRepoPath(this.reposDir, repoId)).then((list) => new Set(list.map((b) => b.name)));
      this.known.set(repoId, names);
      names.catch(() => this.known.delete(repoId));
    }
    if ((await names).has(branch)) return true;
    const exists = (await resolveBranch(bareRepoPath(this.reposDir, repoId), branch)) !== undefined;
    if (exists) this.invalidate(repoId);
    return exists;
  }

  invalidate(repoId: string): void {
    this.known.delete(repoId);
  }
}
