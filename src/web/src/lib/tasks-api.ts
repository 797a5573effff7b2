import type { PickResult, PickTask, Task, TaskList } from '../../../shared/api.js';
import { api, seg } from './api.js';

type Signal = AbortSignal | undefined;

/** `/api/tasks`: one prompt given to several jobs, their comparison, and the pick. */
export const tasksApi = {
  list: (limit: number, signal?: Signal): Promise<TaskList> => api('GET', `/api/tasks?limit=${limit}`, undefined, { signal }),
  get: (id: string, signal?: Signal): Promise<Task> => api('GET', `/api/tasks/${seg(id)}`, undefined, { signal }),
  pick: (id: string, body: PickTask): Promise<PickResult> => api('POST', `/api/tasks/${seg(id)}/pick`, body),
};
