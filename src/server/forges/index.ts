import type { Forge, ForgeKind } from '../../shared/api.js';
import type { RepoRow } from '../store/repos.js';
import { gitea } from './gitea.js';
import { github } from './github.js';
import { gitlab } from './gitlab.js';
import type { ForgeApi } from './types.js';

export { ForgeError } from './http.js';
export type { ForgeApi, PullRequestAsk } from './types.js';

/** The stored secret (or server environment variable) that holds the token pull requests are opened with. */
export const FORGE_TOKEN_NAME = 'LAZYAF_FORGE_TOKEN';

const APIS: Record<ForgeKind, ForgeApi> = { github, gitlab, gitea };

/** A name part GitHub and Gitea allow: letters, digits, `.`, `_`, `-`, never `.` or `..` alone. */
const PART_RE = /^(?!\.\.?$)[A-Za-z0-9._-]{1,100}$/;

/** Why a project cannot be the forge's: GitHub and Gitea take owner/name, GitLab a path of groups and a name. */
export function projectRefusal(kind: ForgeKind, project: string): string | undefined {
  const parts = project.split('/');
  const shape = kind === 'gitlab' ? parts.length >= 2 && parts.length <= 20 : parts.length === 2;
  if (shape && parts.every((p) => PART_RE.test(p))) return undefined;
  return kind === 'gitlab' ? 'a GitLab project is its path, group/name (letters, digits, . _ -)' : `a ${kind} project is owner/name (letters, digits, . _ -)`;
}

/** Why a forge cannot be stored (`PATCH /api/repos/{id}` with `forge`), or undefined. */
export function forgeRefusal(forge: Forge): string | undefined {
  if (!URL.canParse(forge.api_url)) return 'forge.api_url must be an http(s) URL';
  const url = new URL(forge.api_url);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return 'forge.api_url must be an http(s) URL';
  // The token goes in a header from the stored secret; a URL's credentials would be shown and logged with it.
  if (url.username || url.password) return 'forge.api_url may not hold credentials: store the token with lazyaf secrets set LAZYAF_FORGE_TOKEN';
  if (url.search || url.hash) return 'forge.api_url may not have a query or a fragment';
  if (forge.project !== undefined) {
    const why = projectRefusal(forge.kind, forge.project);
    if (why) return `forge.project: ${why}`;
  }
  return undefined;
}

/** The stored forge as the API shows it (stored only once checked), or null. */
export function forgeOf(json: string | null): Forge | null {
  if (!json) return null;
  try {
    return JSON.parse(json) as Forge;
  } catch {
    return null;
  }
}

/** Where a repo's pull requests go: the API, its base URL and the project. */
export interface ResolvedForge {
  kind: ForgeKind;
  api: ForgeApi;
  apiUrl: string;
  project: string;
}

/**
 * The repo's forge: the one set on it, else github.com's or gitlab.com's for a remote there; a
 * string says why there is none. The project is the forge's own, else the remote's path.
 */
export function resolveForge(repo: Pick<RepoRow, 'forge' | 'remote_url'>): ResolvedForge | string {
  const set = forgeOf(repo.forge);
  const remote = repo.remote_url ? remoteHostAndPath(repo.remote_url) : undefined;
  let kind: ForgeKind;
  let apiUrl: string;
  if (set) {
    kind = set.kind;
    apiUrl = set.api_url;
  } else if (remote?.host === 'github.com') {
    kind = 'github';
    apiUrl = 'https://api.github.com';
  } else if (remote?.host === 'gitlab.com') {
    kind = 'gitlab';
    apiUrl = 'https://gitlab.com/api/v4';
  } else {
    return "set the repo's forge to open a pull request (PATCH /api/repos/{id} with forge: {kind, api_url, project}): its remote is not on github.com or gitlab.com";
  }
  const project = set?.project ?? remote?.path;
  if (!project) return "set the repo's forge.project (owner/name): it cannot be read from the repo's remote_url";
  const why = projectRefusal(kind, project);
  if (why) return `the forge's project "${project.slice(0, 100)}" cannot be used: ${why}; set forge.project`;
  return { kind, api: APIS[kind], apiUrl: apiUrl.replace(/\/+$/, ''), project };
}

/** The host and repository path of an http(s)/ssh/git URL or an scp-like remote, without `.git`; undefined for a local path. */
export function remoteHostAndPath(remoteUrl: string): { host: string; path: string } | undefined {
  let host: string;
  let path: string;
  const scp = /^(?:[^@/:]+@)?([^@/:[\]]+):(?!\/\/)(.+)$/.exec(remoteUrl);
  if (/^(https?|ssh|git):\/\//.test(remoteUrl) && URL.canParse(remoteUrl)) {
    const url = new URL(remoteUrl);
    host = url.hostname;
    path = decodeURIComponent(url.pathname);
  } else if (scp) {
    host = scp[1]!;
    path = scp[2]!;
  } else {
    return undefined;
  }
  path = path.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '');
  return path ? { host: host.toLowerCase(), path } : undefined;
}
