/** The route the address bar names; routes are plain paths (`/`, `/jobs/<id>`, `/repos`, `/repos/<name>`). */
class Router {
  path = $state(location.pathname);

  constructor() {
    addEventListener('popstate', () => {
      this.path = location.pathname;
    });
  }

  navigate(href: string, opts: { replace?: boolean } = {}): void {
    if (opts.replace) history.replaceState(null, '', href);
    else history.pushState(null, '', href);
    this.path = location.pathname;
    scrollTo(0, 0);
  }
}

export const router = new Router();

/**
 * `onclick` for an in-app `<a href>`: navigates without a page load, but leaves a modified click
 * (new tab, download) to the browser.
 */
export function link(event: MouseEvent): void {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const anchor = event.currentTarget as HTMLAnchorElement;
  if (anchor.origin !== location.origin) return;
  event.preventDefault();
  router.navigate(anchor.pathname + anchor.search);
}

/** The decoded path segment after `prefix` (`/jobs/` → the job id), or undefined when the path is not under it. */
export function param(path: string, prefix: string): string | undefined {
  if (!path.startsWith(prefix)) return undefined;
  const rest = path.slice(prefix.length);
  if (!rest || rest.includes('/')) return undefined;
  try {
    return decodeURIComponent(rest);
  } catch {
    return undefined;
  }
}
