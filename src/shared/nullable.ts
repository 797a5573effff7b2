import { Type } from 'typebox';

/**
 * An integer or null, as one `type: ['integer', 'null']`. The server's validator coerces types,
 * and on a union it coerces into the first branch that can take the value: with null first, an
 * exit code of 0 became null (a `false` would too); with the integer first, null became 0. Given
 * both types at once, it coerces only a value that is neither.
 */
export const NullableInteger = () => Type.Unsafe<number | null>({ type: ['integer', 'null'] });
