import { Type, type Static } from 'typebox';
import { TranscriptEntry } from '../transcript.js';
import { Nullable } from './common.js';

/** An entry as stored: numbered from 1 within its attempt. */
export const StoredTranscriptEntry = Type.Object({
  ...TranscriptEntry.properties,
  seq: Type.Integer({ minimum: 1, description: 'From 1 within its attempt.' }),
});
export type StoredTranscriptEntry = Static<typeof StoredTranscriptEntry>;

export const TranscriptQuery = Type.Object(
  {
    attempt: Type.Optional(Type.Integer({ minimum: 1, description: 'Which attempt (1, 2, ...): the last one by default.' })),
    after: Type.Optional(Type.Integer({ minimum: 0, description: 'Only entries with a greater seq (to follow after a live event was missed).' })),
    limit: Type.Optional(
      Type.Integer({ minimum: 1, description: 'At most this many entries (all by default): a page; fewer than asked means the end was reached.' }),
    ),
  },
  { additionalProperties: false },
);
export type TranscriptQuery = Static<typeof TranscriptQuery>;

export const Transcript = Type.Object(
  {
    job_id: Type.String(),
    attempt: Nullable(Type.Integer(), 'The attempt shown, or null when the job has none yet.'),
    entries: Type.Array(StoredTranscriptEntry),
    truncated: Type.Boolean({ description: "The attempt's transcript reached its cap: later entries were dropped (the raw log has them)." }),
  },
  { description: "An agent job's transcript: a shell job, or an agent job before its first entry, has none." },
);
export type Transcript = Static<typeof Transcript>;
