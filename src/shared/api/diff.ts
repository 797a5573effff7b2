import { Type, type Static } from 'typebox';
import { Nullable } from './common.js';

/**
 * The most bytes of git's file list a diff reads, whatever max_files says: a job chooses its
 * paths' length (160,000 paths of 3,500 characters, a few MB of objects, listed 564 MB).
 */
export const DIFF_LIST_MAX_BYTES = 4 * 1024 * 1024;

export const DiffFile = Type.Object(
  {
    path: Type.String(),
    old_path: Nullable(Type.String(), 'The path before a rename or copy.'),
    status: Type.String({ description: 'A added, M modified, D deleted, R renamed, C copied, T type changed.' }),
    added: Nullable(Type.Integer()),
    removed: Nullable(Type.Integer()),
    binary: Type.Boolean(),
  },
  {
    description: `A file the job changed, with its added and removed line counts: null for a binary file, and for every file of a list cut at ${DIFF_LIST_MAX_BYTES} bytes of paths (counting them would cost the whole diff).`,
  },
);
export type DiffFile = Static<typeof DiffFile>;

export const JobDiffQuery = Type.Object(
  {
    max_bytes: Type.Optional(
      Type.Integer({ minimum: 1024, maximum: 16 * 1024 * 1024, default: 1024 * 1024, description: 'Cap on the unified diff returned; past it, a marker.' }),
    ),
    max_files: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000,
        default: 3000,
        description: `Cap on the files listed (and on ${DIFF_LIST_MAX_BYTES} bytes of their paths); past it, files_truncated.`,
      }),
    ),
    stat: Type.Optional(Type.Boolean({ default: false, description: 'Only the files and counts, no unified diff.' })),
  },
  { additionalProperties: false },
);

export const JobDiff = Type.Object(
  {
    job_id: Type.String(),
    branch: Type.String(),
    commit: Nullable(Type.String(), "The job's commit, or null when it has none yet (queued, running, or it changed nothing)."),
    base_commit: Nullable(Type.String()),
    files: Type.Array(DiffFile),
    files_truncated: Type.Boolean({
      description: `The job changed more files than listed: the list stops at max_files, or at ${DIFF_LIST_MAX_BYTES} bytes of paths.`,
    }),
    added: Type.Integer({ description: 'Lines added in the files listed.' }),
    removed: Type.Integer({ description: 'Lines removed in the files listed.' }),
    diff: Type.String({ description: 'The unified diff (empty with stat=true), cut at max_bytes behind a marker line when `truncated`.' }),
    truncated: Type.Boolean(),
  },
  { description: "The job's changes against the commit its branch started from." },
);
export type JobDiff = Static<typeof JobDiff>;
