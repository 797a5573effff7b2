import { isFinished, type JobStatusName } from '../../../shared/job-status.js';
import { seg } from './api.js';
import { revealedText } from './hidden-chars.js';
import { jobsApi } from './jobs-api.js';
import { live } from './live.svelte.js';
import { router } from './router.svelte.js';

/** A job someone watches: its title for the notification, and the last status seen. */
interface Watched {
  title: string;
  status: JobStatusName;
}

const STORE_KEY = 'lazyaf.notify-jobs';

export type NotifyPermission = NotificationPermission | 'unsupported';

const permissionNow = (): NotifyPermission => (typeof Notification === 'undefined' ? 'unsupported' : Notification.permission);

/**
 * The browser notification when a watched job finishes. A job is watched while its page is open,
 * and, with its "Notify me" toggle on, from any page of the app and across reloads (kept in
 * localStorage until it has finished). A notification shows only if the person granted the
 * permission; it is asked for only on their click (`toggle`), never on its own.
 */
class JobWatch {
  /** Jobs with "Notify me" on. */
  asked = $state<Record<string, Watched>>(loadAsked());
  permission = $state<NotifyPermission>(permissionNow());
  /** Jobs whose page is open, with how many views show them. */
  private readonly open = new Map<string, { views: number; title: string; status: JobStatusName | undefined }>();

  /** Follows the event stream while the person is signed in; returns the stop (return it from an `$effect`). */
  start(): () => void {
    const offLive = live.onLive('watch', (event) => this.saw(event.job_id, event.status));
    // A job may have finished while the stream was down (or the tab closed): read each asked one again.
    const offConnected = live.onConnected(() => {
      for (const id of Object.keys(this.asked)) {
        jobsApi.get(id).then(
          (job) => this.saw(job.id, job.status),
          () => undefined,
        );
      }
    });
    return () => {
      offLive();
      offConnected();
    };
  }

  /** A job page shows `job`: watch it until the returned function is called. */
  watchPage(id: string): () => void {
    const entry = this.open.get(id);
    if (entry) entry.views++;
    else this.open.set(id, { views: 1, title: '', status: undefined });
    return () => {
      const e = this.open.get(id);
      if (e && --e.views === 0) this.open.delete(id);
    };
  }

  /** What a job page has read of the job: its title, and the status a change is measured from. */
  seen(id: string, title: string, status: JobStatusName): void {
    const entry = this.open.get(id);
    if (!entry) return;
    entry.title = title;
    // The first read is where the watch starts from: a job already finished when its page opened does not notify.
    if (entry.status === undefined) entry.status = status;
    else this.saw(id, status);
  }

  /** The person's click on "Notify me": asks for the permission if it was never given or refused, then turns the job's toggle on or off. */
  async toggle(id: string, title: string, status: JobStatusName): Promise<void> {
    if (this.asked[id]) {
      delete this.asked[id];
      this.save();
      return;
    }
    if (typeof Notification !== 'undefined' && Notification.permission === 'default') {
      await Notification.requestPermission();
    }
    this.permission = permissionNow();
    if (this.permission !== 'granted') return;
    this.asked[id] = { title, status };
    this.save();
  }

  /** A status of a job seen (an event, a read): a watched one that went from unfinished to finished notifies. */
  private saw(id: string, status: JobStatusName): void {
    const page = this.open.get(id);
    const asked = this.asked[id];
    const before = page?.status ?? asked?.status;
    if (page) page.status = status;
    if (asked) {
      asked.status = status;
      if (isFinished(status)) delete this.asked[id];
      this.save();
    }
    if ((page || asked) && before !== undefined && !isFinished(before) && isFinished(status)) {
      this.notify(id, page?.title || asked?.title || id, status);
    }
  }

  private notify(id: string, title: string, status: JobStatusName): void {
    this.permission = permissionNow();
    if (this.permission !== 'granted') return;
    const note = new Notification(`Job ${status}`, { body: revealedText(title), tag: `lazyaf-job-${id}` });
    note.onclick = () => {
      window.focus();
      router.navigate(`/jobs/${seg(id)}`);
    };
  }

  private save(): void {
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(this.asked));
    } catch {
      // Storage refused: the toggle lasts for this page only.
    }
  }
}

/** The asked jobs kept by an earlier page; anything malformed is dropped. */
function loadAsked(): Record<string, Watched> {
  try {
    const raw: unknown = JSON.parse(localStorage.getItem(STORE_KEY) ?? '{}');
    const out: Record<string, Watched> = {};
    if (raw && typeof raw === 'object') {
      for (const [id, v] of Object.entries(raw as Record<string, unknown>)) {
        const w = v as Partial<Watched> | null;
        if (typeof w?.title === 'string' && typeof w.status === 'string' && !isFinished(w.status)) out[id] = { title: w.title, status: w.status };
      }
    }
    return out;
  } catch {
    return {};
  }
}

export const jobWatch = new JobWatch();
