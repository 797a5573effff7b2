/**
 * The time relative dates are shown against. It ticks every 30 s so "3 minutes ago" stays
 * true on a page left open; it reads no server (the live stream brings every change).
 */
class Clock {
  now = $state(Date.now());

  constructor() {
    setInterval(() => {
      this.now = Date.now();
    }, 30_000);
  }
}

export const clock = new Clock();
