import { createOrFind, forgeRequest, urlField } from './http.js';
import type { ForgeApi, PullRequestAsk } from './types.js';

/**
 * GitHub's REST API (https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request): a new
 * pull request is 201 with its `html_url`; one already open for the head is 422, and is found with
 * the list filtered by `head=owner:branch`.
 */
export const github: ForgeApi = {
  openPullRequest(ask: PullRequestAsk): Promise<string> {
    const headers = {
      Authorization: `Bearer ${ask.token}`,
      Accept: 'application/vnd.github+json',
      'X-GitHub-Api-Version': '2022-11-28',
    };
    const pulls = `${ask.apiUrl}/repos/${ownerAndName(ask.project)}/pulls`;
    return createOrFind({
      what: 'the pull request',
      url: pulls,
      headers,
      body: { title: ask.title, head: ask.head, base: ask.base, body: ask.body },
      token: ask.token,
      urlKey: 'html_url',
      conflict: 422,
      findOpen: async () => {
        const owner = ask.project.split('/')[0]!;
        const query = new URLSearchParams({ head: `${owner}:${ask.head}`, state: 'open' });
        const found = await forgeRequest({ method: 'GET', url: `${pulls}?${query}`, headers, token: ask.token });
        return found.status === 200 && Array.isArray(found.json) ? urlField(found.json[0], 'html_url') : undefined;
      },
    });
  },
};

/** The project's two parts, each as a path segment. */
export function ownerAndName(project: string): string {
  return project
    .split('/')
    .map((part) => encodeURIComponent(part))
    .join('/');
}
