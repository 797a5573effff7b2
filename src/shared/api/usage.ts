import { Type, type Static } from 'typebox';

export const UsageQuery = Type.Object(
  {
    since: Type.Optional(Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'Only attempts that ended on or after this day (YYYY-MM-DD, UTC).' })),
    repo: Type.Optional(Type.String({ minLength: 1, maxLength: 200, description: 'Repo id or name.' })),
  },
  { additionalProperties: false },
);
export type UsageQuery = Static<typeof UsageQuery>;

export const UsageSum = Type.Object({
  jobs: Type.Integer(),
  input_tokens: Type.Integer(),
  output_tokens: Type.Integer(),
  cache_read_tokens: Type.Integer(),
  cache_write_tokens: Type.Integer(),
  cost_usd: Type.Number({ description: 'Summed over the jobs whose agent reported a cost; `jobs_without_cost` says how many did not.' }),
  jobs_without_cost: Type.Integer(),
});
export type UsageSum = Static<typeof UsageSum>;

export const UsageReport = Type.Object(
  {
    total: UsageSum,
    by_repo: Type.Array(Type.Object({ repo_id: Type.String(), repo_name: Type.String(), ...UsageSum.properties })),
    by_day: Type.Array(Type.Object({ day: Type.String({ description: 'YYYY-MM-DD, UTC.' }), ...UsageSum.properties })),
  },
  { description: 'Agent usage summed per repo and per day (UTC), newest day first.' },
);
export type UsageReport = Static<typeof UsageReport>;
