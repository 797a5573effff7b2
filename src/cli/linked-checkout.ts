import type { Repo } from '../shared/api.js';
import { ApiClient, type ClientOptions } from './client.js';
import { CliError, RefusedError } from './errors.js';
import { lazyafLink } from './local-git.js';

/** A checkout linked to a lazyaf repo (by `ingest` or `link`), with a client for the server its remote names. */
export interface LinkedCheckout {
  root: string;
  /** The `lazyaf` remote's URL. */
  url: string;
  client: ApiClient;
  repo: Repo;
}

/**
 * The repo the checkout at `root` is linked to, undefined when it has no `lazyaf` remote. The
 * server its remote names is the one asked (unless --server says otherwise): the repo id is that
 * server's, and that is where a push goes.
 */
export async function linkedCheckout(root: string, global: ClientOptions): Promise<LinkedCheckout | undefined> {
  const link = await lazyafLink(root);
  if (!link) return undefined;
  const base = new URL(link.base);
  const client = new ApiClient({ ...global, server: global.server ?? base.origin + base.pathname });
  const repo = await client.request<Repo>('GET', `/api/repos/${link.repoId}`).catch((err: unknown) => {
    if (!(err instanceof RefusedError && err.status === 404)) throw err;
    throw new CliError(
      `the lazyaf repo this checkout is linked to (${link.repoId}) is gone from ${client.server}; to link it to another: lazyaf link REPO; to ingest it anew: git remote remove lazyaf, then lazyaf ingest`,
    );
  });
  return { root, url: link.url, client, repo };
}

/** What to run to link a checkout: `ingest` for a repo new to lazyaf, `link` for one already there. */
export const HOW_TO_LINK = 'lazyaf ingest PATH --name NAME (a new repo), or lazyaf link REPO (a repo already on lazyaf)';
