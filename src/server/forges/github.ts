import { ForgeError, forgeRequest, refused, urlField } from './http.js';
import type { ForgeApi, PullRequestAsk } from './types.js';

/**
 * GitHub's REST API (https://docs.github.com/en/rest/pulls/pulls#create-a-pull-request): a new
 * pull request is 201 with its `html_url`; one already open for the head is 422, and is found with
 * the list filtered by `head=owner:branch`.
 */
export const github: ForgeApi = {
  async openPullRequest(ask: PullRequestAsk): Promise<string> {
    const headers = {
      Authorization: `Bearer ${ask.token}`,
      Accept: 'application/vnd.github+json',
      'X-GitHub-Api-Version': '2022-11-28',
    };
    const pulls = `${ask.apiUrl}/repos/${ownerAndName(ask.project)}/pulls`;
    const created = await forgeRequest({
      method: 'POST',
      url: pulls,
      headers,
      body: { title: ask.title, head: ask.head, base: ask.base, body: ask.body },
      token: ask.token,
    });
    if (created.status === 201) return urlField(created.json, 'html_url') ?? noUrl(created.status);
    if (created.status !== 422) throw refused('the pull request', created, ask.token);
    const owner = ask.project.split('/')[0]!;
    const query = new URLSearchParams({ head: `${owner}:${ask.head}`, state: 'open' });
    const found = await forgeRequest({ method: 'GET', url: `${pulls}?${query}`, headers, token: ask.token });
    const open = found.status === 200 && Array.isArray(found.json) ? urlField(found.json[0], 'html_url') : undefined;
    if (open) return open;
    throw refused('the pull request', created, ask.token);
  },
};

/** The project's two parts, each as a path segment. */
export function ownerAndName(project: string): string {
  return project
    .split('/')
    .map((part) => encodeURIComponent(part))
    .join('/');
}

function noUrl(status: number): never {
  throw new ForgeError(`the forge answered ${status} without the pull request's URL`);
}
