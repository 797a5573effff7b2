import { isAgentCredential } from '../shared/agents/credentials.js';
import { SECRET_NAME_RE } from '../shared/names.js';
import type { StoredSecrets } from './stored-secrets.js';

/**
 * The value of the secret `name` for a job of repo `repoId`, as a repo's environment names it
 * (`.lazyaf.yml`'s `secrets` and `job_secrets`), or undefined when the server holds none.
 */
export type SecretLookup = (repoId: string, name: string) => string | undefined;

/**
 * The lookup over the stored secrets: the repo's own (`lazyaf secrets set NAME --repo R`) first,
 * then the one stored for every repo. An agent's credential stored for every repo is not given:
 * `.lazyaf.yml` is read at the job's base commit, which a job's own agent may have written, and
 * naming `ANTHROPIC_API_KEY` there must not hand the server's key to a shell job or a setup
 * script. Agents get theirs with their assignment; a repo that needs one in its setup or checks
 * stores it for itself with `--repo`.
 */
export function repoSecretLookup(secrets: Pick<StoredSecrets, 'lookup'>): SecretLookup {
  return (repoId, name) => {
    if (!SECRET_NAME_RE.test(name)) return undefined;
    const found = secrets.lookup(repoId, name);
    if (!found || (!found.own && isAgentCredential(name))) return undefined;
    return found.value;
  };
}
