/** The package version, shown by `lazyaf --version` and /api/health. */
export const VERSION = '0.1.0';
