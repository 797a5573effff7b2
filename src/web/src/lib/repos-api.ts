import type { BranchList, LandResult, Repo, RepoEnvironmentView, RepoList } from '../../../shared/api.js';
import { api, seg } from './api.js';

type Signal = AbortSignal | undefined;

/** `/api/repos`: the repos, one repo (by name or id, the API takes either), its branches, and landing one. */
export const reposApi = {
  list: (signal?: Signal): Promise<RepoList> => api('GET', '/api/repos', undefined, { signal }),
  get: (nameOrId: string, signal?: Signal): Promise<Repo> => api('GET', `/api/repos/${seg(nameOrId)}`, undefined, { signal }),
  branches: (nameOrId: string, signal?: Signal): Promise<BranchList> => api('GET', `/api/repos/${seg(nameOrId)}/branches`, undefined, { signal }),
  environment: (id: string, signal?: Signal): Promise<RepoEnvironmentView> => api('GET', `/api/repos/${seg(id)}/environment`, undefined, { signal }),
  land: (id: string, branch: string): Promise<LandResult> => api('POST', `/api/repos/${seg(id)}/land`, { branch }),
};
