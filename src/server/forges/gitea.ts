import { ownerAndName } from './github.js';
import { ForgeError, forgeRequest, refused, urlField } from './http.js';
import type { ForgeApi, PullRequestAsk } from './types.js';

/**
 * Gitea's and Forgejo's REST API (`POST /repos/{owner}/{repo}/pulls`, CreatePullRequestOption):
 * 201 with the pull request's `html_url`; one already open for the same head and base is 409, and
 * is found among the open ones.
 */
export const gitea: ForgeApi = {
  async openPullRequest(ask: PullRequestAsk): Promise<string> {
    const headers = { Authorization: `token ${ask.token}`, Accept: 'application/json' };
    const pulls = `${ask.apiUrl}/repos/${ownerAndName(ask.project)}/pulls`;
    const created = await forgeRequest({
      method: 'POST',
      url: pulls,
      headers,
      body: { head: ask.head, base: ask.base, title: ask.title, body: ask.body },
      token: ask.token,
    });
    if (created.status === 201) {
      const url = urlField(created.json, 'html_url');
      if (!url) throw new ForgeError(`the forge answered ${created.status} without the pull request's URL`);
      return url;
    }
    if (created.status !== 409) throw refused('the pull request', created, ask.token);
    const found = await forgeRequest({ method: 'GET', url: `${pulls}?state=open&limit=50`, headers, token: ask.token });
    const open = Array.isArray(found.json) ? found.json.find((pr: unknown) => refOf(pr, 'head') === ask.head && refOf(pr, 'base') === ask.base) : undefined;
    const url = found.status === 200 ? urlField(open, 'html_url') : undefined;
    if (url) return url;
    throw refused('the pull request', created, ask.token);
  },
};

function refOf(pr: unknown, side: 'head' | 'base'): unknown {
  if (!pr || typeof pr !== 'object') return undefined;
  const branch = (pr as Record<string, unknown>)[side];
  return branch && typeof branch === 'object' ? (branch as { ref?: unknown }).ref : undefined;
}
