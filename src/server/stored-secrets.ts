import { environmentCredentialValues, isAgentSetting } from './agent-credentials.js';
import { secretsOf } from '../shared/agents/credentials.js';
import { Redactor } from '../shared/redact.js';
import type { SecretInfo, SecretStore } from './store/secrets.js';

/**
 * The secrets the server holds (`lazyaf secrets`): set and listed by people, handed to jobs with
 * their assignment, and hidden from everything the server stores that came from a job. The
 * redactor is kept until a secret changes: every log chunk asks for it, and only this server
 * writes the table (its data dir is locked to it).
 */
export class StoredSecrets {
  private redactorCache: Redactor | undefined;

  constructor(
    readonly store: SecretStore,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  /** Creates or replaces a secret; returns whether it existed. */
  set(name: string, repoId: string | null, value: string): boolean {
    this.redactorCache = undefined;
    return this.store.set(name, repoId, value);
  }

  remove(name: string, repoId: string | null): boolean {
    this.redactorCache = undefined;
    return this.store.remove(name, repoId);
  }

  list(): SecretInfo[] {
    return this.store.list();
  }

  listFor(repoId: string): SecretInfo[] {
    return this.store.listFor(repoId);
  }

  /** What a job of `repoId` may be given, by name (the repo's own value over the global one). */
  valuesFor(repoId: string | null): Record<string, string> {
    return this.store.valuesFor(repoId);
  }

  /** The value of `name` for a job of `repoId`: see repo-secrets.ts. */
  lookup(repoId: string, name: string): { value: string; own: boolean } | undefined {
    return this.store.lookup(repoId, name);
  }

  /** Hides every stored secret (of every repo) and every agent credential of the server's environment. */
  redactor(): Redactor {
    return (this.redactorCache ??= new Redactor([...hiddenValues(this.store.allValues()), ...environmentCredentialValues(this.env)]));
  }
}

/**
 * The stored values to hide. A stored secret is one unless it is an agent's setting: a repo's
 * environment names its secrets freely (`DATABASE_URL`, `SENTRY_DSN`), and a value stored for it
 * is one only because it must not be seen, whatever its name says. An agent's setting (a gateway's
 * URL, a region) stays readable, as in the server's environment, but for a URL's password
 * (secretsOf, which every value goes through: a password may show decoded).
 */
function hiddenValues(stored: [name: string, value: string][]): string[] {
  return [...secretsOf(stored).map(([, value]) => value), ...stored.filter(([name]) => !isAgentSetting(name)).map(([, value]) => value)];
}
