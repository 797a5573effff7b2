import { Type, type Static } from 'typebox';

/**
 * The public HTTP API's shapes, declared once: the server validates and documents with them,
 * the CLI types its responses with them.
 */

export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String(),
  message: Type.String(),
});

export const RepoName = Type.String({
  pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$',
  description: 'Letters, digits, ".", "_" and "-", at most 100 characters, starting with a letter or digit.',
});
export const BranchName = Type.String({ minLength: 1, maxLength: 255, description: 'A git branch name (without refs/heads/).' });
export const RemoteUrl = Type.String({ minLength: 1, maxLength: 2048, description: 'The real remote: an http(s)/ssh/git/file URL, user@host:path, or an absolute path.' });

export const Repo = Type.Object({
  id: Type.String(),
  name: Type.String(),
  default_branch: Type.String(),
  remote_url: Type.Union([Type.String(), Type.Null()]),
  clone_url: Type.String(),
  created_at: Type.String(),
  updated_at: Type.String(),
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
  },
  { additionalProperties: false, minProperties: 1 },
);
export type UpdateRepo = Static<typeof UpdateRepo>;

export const RepoList = Type.Object({ repos: Type.Array(Repo), total: Type.Integer() });
export type RepoList = Static<typeof RepoList>;

export const CloneUrl = Type.Object({ clone_url: Type.String(), repo_id: Type.String(), name: Type.String() });

export const Branch = Type.Object({
  name: Type.String(),
  commit: Type.String(),
  is_default: Type.Boolean(),
  is_lazyaf: Type.Boolean(),
});
export const BranchList = Type.Object({ branches: Type.Array(Branch), default_branch: Type.String(), total: Type.Integer() });
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
  remote_url: Type.String(),
  commit: Type.String(),
  output: Type.String(),
});
export type LandResult = Static<typeof LandResult>;

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

export const Health = Type.Object({ status: Type.Literal('ok'), version: Type.String() });
