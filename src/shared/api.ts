/** The HTTP API's shapes: one module per resource in `api/`, imported from here or from `api/index.ts`. */
export * from './api/index.js';
