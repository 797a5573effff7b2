import type { SessionState } from '../../../shared/api.js';
import { api } from './api.js';

/** `/api/session`: whether this browser is signed in, signing in with the admin token or a link's code, signing out. */
export const sessionApi = {
  get: (): Promise<SessionState> => api('GET', '/api/session'),
  signIn: (proof: { token: string } | { code: string }): Promise<SessionState> => api('POST', '/api/session', proof),
  signOut: (): Promise<void> => api('DELETE', '/api/session'),
};
