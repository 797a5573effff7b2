import { Type, type Static } from 'typebox';
import { RepoEnvironment } from '../environment.js';
import { NAME_RE } from '../names.js';
import { ListTotal, Nullable, Time } from './common.js';

export const RepoName = Type.String({
  pattern: NAME_RE.source,
  description: 'Letters, digits, ".", "_" and "-", at most 100 characters, starting with a letter or digit.',
});
export const BranchName = Type.String({ minLength: 1, maxLength: 255, description: 'A git branch name (without refs/heads/).' });
export const RemoteUrl = Type.String({
  minLength: 1,
  maxLength: 2048,
  description: 'The real remote: an http(s)/ssh/git/file URL, user@host:path, or an absolute path.',
});

/** Where the repo's pull requests are opened: which forge's REST API, at which base URL. */
export const ForgeKind = Type.Union([Type.Literal('github'), Type.Literal('gitlab'), Type.Literal('gitea')], {
  description: 'gitea covers Forgejo (the same API).',
});
export type ForgeKind = Static<typeof ForgeKind>;
export const Forge = Type.Object(
  {
    kind: ForgeKind,
    api_url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'The API base: https://api.github.com, https://gitlab.example.com/api/v4, https://gitea.example.com/api/v1.',
    }),
    project: Type.Optional(
      Type.String({ minLength: 1, maxLength: 500, description: 'owner/name (GitLab: the project path); default: taken from remote_url.' }),
    ),
  },
  { additionalProperties: false },
);
export type Forge = Static<typeof Forge>;

export const Repo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  default_branch: Type.String({ description: 'The branch a job starts from unless it names another.' }),
  remote_url: Nullable(Type.String(), 'The remote the server lands branches on, its credentials hidden; null when none is set.'),
  clone_url: Type.String({ description: "The repo's URL on the server's own git server (`/git/<id>.git`)." }),
  forge: Type.Optional(
    Nullable(
      Forge,
      'Where pull requests are opened, when set; else github.com and gitlab.com remotes are known, and a PR elsewhere is refused until it is set.',
    ),
  ),
  created_at: Time(),
  updated_at: Time(),
});
export type Repo = Static<typeof Repo>;

export const CreateRepo = Type.Object(
  {
    name: RepoName,
    remote_url: Type.Optional(Type.Union([RemoteUrl, Type.Null()])),
    default_branch: Type.Optional(BranchName),
  },
  { additionalProperties: false },
);
export type CreateRepo = Static<typeof CreateRepo>;

export const UpdateRepo = Type.Object(
  {
    name: Type.Optional(RepoName),
    remote_url: Type.Optional(Type.Union([RemoteUrl, Type.Null()])),
    default_branch: Type.Optional(BranchName),
    forge: Type.Optional(Type.Union([Forge, Type.Null()])),
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateRepo = Static<typeof UpdateRepo>;

export const RepoList = Type.Object({ repos: Type.Array(Repo), total: ListTotal() });
export type RepoList = Static<typeof RepoList>;

export const CloneUrl = Type.Object({ clone_url: Type.String(), repo_id: Type.String(), name: Type.String() });

export const Branch = Type.Object({
  name: Type.String(),
  commit: Type.String({ description: "The branch's head commit." }),
  is_default: Type.Boolean({ description: "The repo's default branch." }),
  is_lazyaf: Type.Boolean({ description: 'A job branch (lazyaf/<job id>).' }),
});
export const BranchList = Type.Object({ branches: Type.Array(Branch), default_branch: Type.String(), total: ListTotal() });
export type BranchList = Static<typeof BranchList>;

export const LandRequest = Type.Object(
  {
    branch: BranchName,
    remote_branch: Type.Optional(BranchName),
    force: Type.Optional(Type.Boolean({ default: false })),
  },
  { additionalProperties: false },
);
export type LandRequest = Static<typeof LandRequest>;

export const LandResult = Type.Object({
  repo_id: Type.String(),
  branch: Type.String(),
  remote_branch: Type.String(),
  remote_url: Type.String({ description: 'Where it was pushed, its credentials hidden.' }),
  commit: Type.String({ description: 'The commit pushed.' }),
  output: Type.String({ description: "What git push said, URLs' credentials hidden." }),
});
export type LandResult = Static<typeof LandResult>;

/** `GET /api/repos/{id}/environment`: the repo's environment from its file and from the server, and what a job gets. */
export const RepoEnvironmentView = Type.Object({
  file: Type.Union([RepoEnvironment, Type.Null()], { description: "`.lazyaf.yml` at the default branch's head, or null when it has none." }),
  file_error: Type.Union([Type.String(), Type.Null()], { description: 'Why that file cannot be used (a job on it would fail with this line), or null.' }),
  server: Type.Union([RepoEnvironment, Type.Null()], { description: "The server's override (`PUT`), or null. Each key it sets replaces the file's." }),
  effective: Type.Union([RepoEnvironment, Type.Null()], {
    description: 'What a job on the default branch gets: the file with the override applied (secrets by name only).',
  }),
});
export type RepoEnvironmentView = Static<typeof RepoEnvironmentView>;
