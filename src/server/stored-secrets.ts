import { environmentCredentialValues } from './agent-credentials.js';
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

  /** What a job of `repoId` may be given, by name (the repo's own value over the global one). */
  valuesFor(repoId: string | null): Record<string, string> {
    return this.store.valuesFor(repoId);
  }

  /** Hides every stored value and every agent credential of the server's environment. */
  redactor(): Redactor {
    return (this.redactorCache ??= new Redactor([...secretsOf(this.store.allValues()).map(([, value]) => value), ...environmentCredentialValues(this.env)]));
  }
}
