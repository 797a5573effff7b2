/** The events a webhook can ask for, without typebox, for the CLI (the API's schema is built from this list). */
export const WEBHOOK_EVENTS = ['job.finished', 'job.landed', 'task.finished', 'task.picked'] as const;
