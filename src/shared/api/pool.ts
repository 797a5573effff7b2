import { Type, type Static } from 'typebox';

export const PoolState = Type.Object({
  desired: Type.Integer({ description: 'The runners the pool keeps.' }),
  launcher: Type.String({ description: 'How it starts them: process or docker.' }),
  ephemeral: Type.Boolean({ description: 'Each runner takes one job and is replaced by a fresh one (LAZYAF_EPHEMERAL=1).' }),
  running: Type.Integer(),
  draining: Type.Integer(),
});
export type PoolState = Static<typeof PoolState>;

export const ScalePool = Type.Object({ desired: Type.Integer({ minimum: 0, maximum: 256 }) }, { additionalProperties: false });
