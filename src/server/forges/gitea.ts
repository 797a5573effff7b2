import { ownerAndName } from './github.js';
import { createOrFind, forgeRequest, urlField } from './http.js';
import type { ForgeApi, PullRequestAsk } from './types.js';

/**
 * Gitea's and Forgejo's REST API (`POST /repos/{owner}/{repo}/pulls`, CreatePullRequestOption):
 * 201 with the pull request's `html_url`; one already open for the same head and base is 409, and
 * is found among the open ones.
 */
export const gitea: ForgeApi = {
  openPullRequest(ask: PullRequestAsk): Promise<string> {
    const headers = { Authorization: `token ${ask.token}`, Accept: 'application/json' };
    const pulls = `${ask.apiUrl}/repos/${ownerAndName(ask.project)}/pulls`;
    return createOrFind({
      what: 'the pull request',
      url: pulls,
      headers,
      body: { head: ask.head, base: ask.base, title: ask.title, body: ask.body },
      token: ask.token,
      urlKey: 'html_url',
      conflict: 409,
      findOpen: async () => {
        const found = await forgeRequest({ method: 'GET', url: `${pulls}?state=open&limit=50`, headers, token: ask.token });
        const open = Array.isArray(found.json) ? found.json.find((pr: unknown) => refOf(pr, 'head') === ask.head && refOf(pr, 'base') === ask.base) : undefined;
        return found.status === 200 ? urlField(open, 'html_url') : undefined;
      },
    });
  },
};

function refOf(pr: unknown, side: 'head' | 'base'): unknown {
  if (!pr || typeof pr !== 'object') return undefined;
  const branch = (pr as Record<string, unknown>)[side];
  return branch && typeof branch === 'object' ? (branch as { ref?: unknown }).ref : undefined;
}
