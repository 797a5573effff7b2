import fs from 'node:fs';

/**
 * The package version, shown by `lazyaf --version` and /api/health: package.json's own, read at
 * start so the two cannot drift (src/ and dist/ both sit two levels below it).
 */
export const VERSION: string = (JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
