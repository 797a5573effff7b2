import { Type, type Static } from 'typebox';
import { MAX_SECRET_CHARS, SECRET_NAME_RE } from '../names.js';
import { Nullable, Time } from './common.js';

// `/api/secrets`: values go in, never out.

export const SecretParams = Type.Object({ name: Type.String({ pattern: SECRET_NAME_RE.source, description: 'As an environment variable: A-Z, 0-9, _.' }) });
export const SecretScope = Type.Object(
  {
    repo: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          "Repo id or name: that repo's own secret; without it, the one for every repo. Listing: what a job of that repo may be given (its own, and those for every repo it does not replace).",
      }),
    ),
  },
  { additionalProperties: false },
);
export type SecretScope = Static<typeof SecretScope>;
export const SetSecret = Type.Object({ value: Type.String({ minLength: 1, maxLength: MAX_SECRET_CHARS }) }, { additionalProperties: false });
export type SetSecret = Static<typeof SetSecret>;
export const SecretInfo = Type.Object({
  name: Type.String(),
  repo_id: Nullable(Type.String(), 'Null: for every repo.'),
  repo_name: Nullable(Type.String()),
  created_at: Time(),
  updated_at: Time(),
});
export type SecretInfo = Static<typeof SecretInfo>;
export const SecretList = Type.Object({ secrets: Type.Array(SecretInfo) });
export type SecretList = Static<typeof SecretList>;
