import { Type, type Static } from 'typebox';
import { CSRF_HEADER } from '../session.js';
import { Nullable } from './common.js';

// Web sessions (`/api/session`).

export const SignIn = Type.Object(
  {
    token: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'The admin token.' })),
    code: Type.Optional(Type.String({ minLength: 1, maxLength: 512, description: 'The code of a one-time sign-in link.' })),
  },
  { additionalProperties: false, description: 'The admin token, or the code of a one-time sign-in link.' },
);
export type SignIn = Static<typeof SignIn>;

export const SessionState = Type.Object(
  {
    signed_in: Type.Boolean(),
    csrf_token: Nullable(Type.String(), `The token a signed-in browser's writes carry in \`${CSRF_HEADER}\`; null when not signed in.`),
  },
  { description: 'Whether this browser is signed in, and the CSRF token its writes carry.' },
);
export type SessionState = Static<typeof SessionState>;

export const SignInLink = Type.Object({ url: Type.String(), expires_at: Type.String() }, { description: 'A fresh one-time sign-in link.' });
export type SignInLink = Static<typeof SignInLink>;

export const SessionsEnded = Type.Object(
  { ended: Type.Integer({ minimum: 0, description: 'How many sessions there were.' }) },
  { description: 'Every browser signed out.' },
);
export type SessionsEnded = Static<typeof SessionsEnded>;
