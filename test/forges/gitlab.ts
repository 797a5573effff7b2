// GitLab's merge requests API as https://docs.gitlab.com/api/merge_requests/ describes it: the
// project by its URL-encoded path, PRIVATE-TOKEN, {source_branch, target_branch, title,
// description}, 201 with web_url, 409 for a second open one of the same source branch.
import type { TestContext } from 'node:test';
import type { Pull } from './github.js';
import { hasBranch, hostileAnswer, jsonFields, startStandIn, type StandIn } from './stand-in.js';

export async function startGitlab(t: TestContext, opts: { token: string; project: string; remote: string }): Promise<StandIn & { pulls: Pull[] }> {
  const pulls: Pull[] = [];
  const path = `/api/v4/projects/${encodeURIComponent(opts.project)}/merge_requests`;
  const webUrl = (n: number) => `https://gitlab.example/${opts.project}/-/merge_requests/${n}`;
  const self = await startStandIn(t, async (req, self) => {
    const { problems } = self;
    if (req.headers['private-token'] !== opts.token) return { status: 401, json: { message: '401 Unauthorized' } };
    if (req.rawPath !== path) return { status: 404, json: { message: '404 Project Not Found' } };
    if (req.method === 'GET') {
      if (req.query.get('state') !== 'opened') problems.push(`list state: ${req.query.get('state')}`);
      const open = pulls.filter((p) => p.head === req.query.get('source_branch') && p.base === req.query.get('target_branch'));
      return { status: 200, json: open.map((p) => ({ iid: p.number, web_url: webUrl(p.number), source_branch: p.head, target_branch: p.base })) };
    }
    if (req.method !== 'POST') return { status: 405, json: { message: '405 Method Not Allowed' } };
    const hostile = hostileAnswer(self, opts.token);
    if (hostile) return hostile;
    const body = jsonFields(req, ['source_branch', 'target_branch', 'title', 'description'], problems);
    if (!body) return { status: 400, json: { message: '400 Bad request', error: 'title is missing' } };
    if (!(await hasBranch(opts.remote, body.source_branch))) return { status: 422, json: { message: ['Source branch does not exist'] } };
    const existing = pulls.find((p) => p.head === body.source_branch);
    if (existing) return { status: 409, json: { message: [`Another open merge request already exists for this source branch: !${existing.number}`] } };
    const pull = { number: pulls.length + 1, head: body.source_branch, base: body.target_branch, title: body.title, body: body.description };
    pulls.push(pull);
    return { status: 201, json: { iid: pull.number, web_url: webUrl(pull.number), state: 'opened', source_branch: pull.head, target_branch: pull.base } };
  });
  return Object.assign(self, { pulls });
}
