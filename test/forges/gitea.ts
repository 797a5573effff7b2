// Gitea's and Forgejo's pulls API (`POST /repos/{owner}/{repo}/pulls`, CreatePullRequestOption):
// `Authorization: token ...`, {head, base, title, body}, 201 with html_url, 409 for a second open
// one of the same head and base.
import type { TestContext } from 'node:test';
import type { Pull } from './github.js';
import { hasBranch, hostileAnswer, jsonFields, startStandIn, type StandIn } from './stand-in.js';

export async function startGitea(t: TestContext, opts: { token: string; project: string; remote: string }): Promise<StandIn & { pulls: Pull[] }> {
  const pulls: Pull[] = [];
  const path = `/api/v1/repos/${opts.project}/pulls`;
  const htmlUrl = (n: number) => `https://gitea.example/${opts.project}/pulls/${n}`;
  const asJson = (p: Pull) => ({ number: p.number, html_url: htmlUrl(p.number), state: 'open', head: { ref: p.head }, base: { ref: p.base } });
  const self = await startStandIn(t, async (req, self) => {
    const { problems } = self;
    if (req.headers.authorization !== `token ${opts.token}`) return { status: 401, json: { message: 'user does not exist [uid: 0, name: ]' } };
    if (req.rawPath !== path) return { status: 404, json: { message: "The target couldn't be found.", errors: [] } };
    if (req.method === 'GET') {
      if (req.query.get('state') !== 'open') problems.push(`list state: ${req.query.get('state')}`);
      return { status: 200, json: pulls.map(asJson) };
    }
    if (req.method !== 'POST') return { status: 405, json: { message: 'Method Not Allowed' } };
    const hostile = hostileAnswer(self, opts.token);
    if (hostile) return hostile;
    const body = jsonFields(req, ['head', 'base', 'title', 'body'], problems);
    if (!body) return { status: 422, json: { message: '[Title]: Required', errors: [] } };
    if (!(await hasBranch(opts.remote, body.head))) return { status: 404, json: { message: "The target couldn't be found.", errors: [] } };
    if (pulls.some((p) => p.head === body.head && p.base === body.base)) {
      return { status: 409, json: { message: 'pull request already exists for these targets', url: '' } };
    }
    const pull = { number: pulls.length + 1, head: body.head, base: body.base, title: body.title, body: body.body };
    pulls.push(pull);
    return { status: 201, json: asJson(pull) };
  });
  return Object.assign(self, { pulls });
}
