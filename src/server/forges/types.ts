/** What a pull request is opened with, on any forge. */
export interface PullRequestAsk {
  /** The API's base URL, without a trailing slash. */
  apiUrl: string;
  /** owner/name (GitLab: the project's path, groups included), checked by projectRefusal. */
  project: string;
  head: string;
  base: string;
  title: string;
  body: string;
  token: string;
}

/** One forge's REST API: opens a pull request (or finds the open one for the same head) and returns its web URL. */
export interface ForgeApi {
  openPullRequest(ask: PullRequestAsk): Promise<string>;
}
