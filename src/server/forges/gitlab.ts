import { createOrFind, forgeRequest, urlField } from './http.js';
import type { ForgeApi, PullRequestAsk } from './types.js';

/**
 * GitLab's REST API (https://docs.gitlab.com/api/merge_requests/#create-mr): the project is named
 * by its URL-encoded path, a new merge request is 201 with its `web_url`, one already open for the
 * source branch is 409, and is found with the list filtered by source and target branch.
 */
export const gitlab: ForgeApi = {
  openPullRequest(ask: PullRequestAsk): Promise<string> {
    const headers = { 'PRIVATE-TOKEN': ask.token, Accept: 'application/json' };
    const requests = `${ask.apiUrl}/projects/${encodeURIComponent(ask.project)}/merge_requests`;
    return createOrFind({
      what: 'the merge request',
      url: requests,
      headers,
      body: { source_branch: ask.head, target_branch: ask.base, title: ask.title, description: ask.body },
      token: ask.token,
      urlKey: 'web_url',
      conflict: 409,
      findOpen: async () => {
        const query = new URLSearchParams({ source_branch: ask.head, target_branch: ask.base, state: 'opened' });
        const found = await forgeRequest({ method: 'GET', url: `${requests}?${query}`, headers, token: ask.token });
        return found.status === 200 && Array.isArray(found.json) ? urlField(found.json[0], 'web_url') : undefined;
      },
    });
  },
};
