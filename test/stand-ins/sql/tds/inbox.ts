import type { TdsMessage } from './packets.ts';

/** Client messages in arrival order, read one at a time by the connection's loop. */
export class Inbox {
  private readonly queue: TdsMessage[] = [];
  private waiter: ((message: TdsMessage | undefined) => void) | undefined;
  private closed = false;

  push(message: TdsMessage): void {
    if (this.closed) return;
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter(message);
    } else this.queue.push(message);
  }

  /** The next message, or undefined once the connection is gone. */
  next(): Promise<TdsMessage | undefined> {
    const message = this.queue.shift();
    if (message || this.closed) return Promise.resolve(message);
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  close(): void {
    this.closed = true;
    const waiter = this.waiter;
    this.waiter = undefined;
    waiter?.(undefined);
  }
}
