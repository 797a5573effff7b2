import { Type, type TSchema } from 'typebox';

/** The one error shape of every failure. */
export const ErrorBody = Type.Object({
  statusCode: Type.Integer(),
  error: Type.String({ description: 'The HTTP reason phrase.' }),
  message: Type.String({ description: 'What went wrong, for a person; a 5xx says no more than that.' }),
});

export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 200 }) });

export const Health = Type.Object({ status: Type.Literal('ok'), version: Type.String({ description: "The server's version." }) });

/** A value or null; the description says what null means. */
export const Nullable = <T extends TSchema>(t: T, description?: string) => Type.Union([t, Type.Null()], description === undefined ? {} : { description });

/** Every list's `total`, which means the same in each. */
export const ListTotal = () => Type.Integer({ minimum: 0, description: 'All items matching the query, not only those in this answer.' });

/** When a row was made or changed: an ISO 8601 time in UTC. */
export const Time = (description = 'An ISO 8601 time, UTC.') => Type.String({ description });
