// GitHub's pulls API as https://docs.github.com/en/rest/pulls/pulls describes it: the headers it
// asks for, {title, head, base, body}, 201 with html_url, 422 for a second PR of the same head.
import type { TestContext } from 'node:test';
import { hasBranch, hostileAnswer, jsonFields, startStandIn, type StandIn } from './stand-in.js';

export interface Pull {
  number: number;
  head: string;
  base: string;
  title: string;
  body: string;
}

export async function startGithub(t: TestContext, opts: { token: string; project: string; remote: string }): Promise<StandIn & { pulls: Pull[] }> {
  const pulls: Pull[] = [];
  const [owner] = opts.project.split('/');
  const prefix = `/repos/${opts.project}/pulls`;
  const htmlUrl = (n: number) => `https://github.example/${opts.project}/pull/${n}`;
  const self = await startStandIn(t, async (req, self) => {
    const { problems } = self;
    if (req.headers.authorization !== `Bearer ${opts.token}`) return { status: 401, json: { message: 'Bad credentials' } };
    if (req.headers.accept !== 'application/vnd.github+json') problems.push(`accept: ${req.headers.accept}`);
    if (req.headers['x-github-api-version'] !== '2022-11-28') problems.push(`x-github-api-version: ${req.headers['x-github-api-version']}`);
    if (req.rawPath !== prefix) return { status: 404, json: { message: 'Not Found' } };
    if (req.method === 'GET') {
      const head = req.query.get('head');
      if (req.query.get('state') !== 'open') problems.push(`list state: ${req.query.get('state')}`);
      const open = pulls.filter((p) => `${owner}:${p.head}` === head);
      return { status: 200, json: open.map((p) => ({ number: p.number, html_url: htmlUrl(p.number), head: { ref: p.head }, base: { ref: p.base } })) };
    }
    if (req.method !== 'POST') return { status: 404, json: { message: 'Not Found' } };
    const hostile = hostileAnswer(self, opts.token);
    if (hostile) return hostile;
    const body = jsonFields(req, ['title', 'head', 'base', 'body'], problems);
    if (!body) return { status: 422, json: { message: 'Validation Failed', errors: [{ resource: 'PullRequest', code: 'missing_field' }] } };
    if (!(await hasBranch(opts.remote, body.head))) {
      return { status: 422, json: { message: 'Validation Failed', errors: [{ resource: 'PullRequest', field: 'head', code: 'invalid' }] } };
    }
    if (pulls.some((p) => p.head === body.head)) {
      return {
        status: 422,
        json: {
          message: 'Validation Failed',
          errors: [{ resource: 'PullRequest', code: 'custom', message: `A pull request already exists for ${owner}:${body.head}.` }],
        },
      };
    }
    const pull = { number: pulls.length + 1, head: body.head, base: body.base, title: body.title, body: body.body };
    pulls.push(pull);
    return { status: 201, json: { number: pull.number, html_url: htmlUrl(pull.number), state: 'open', head: { ref: pull.head }, base: { ref: pull.base } } };
  });
  return Object.assign(self, { pulls });
}
