/**
 * The public HTTP API's shapes, declared once, one module per resource: the server validates and
 * documents with them (a field's `description` is what `/docs` shows), the CLI and the web UI
 * type their responses with them.
 */
export * from './common.js';
export * from './repos.js';
export * from './jobs.js';
export * from './diff.js';
export * from './transcript.js';
export * from './usage.js';
export * from './runners.js';
export * from './pool.js';
export * from './secrets.js';
export * from './session.js';
export * from './events.js';
export * from './tasks.js';
export * from './comments.js';
export * from './webhooks.js';
export { CheckResult, CheckStatus, RepoEnvironment, SetupReport } from '../environment.js';
