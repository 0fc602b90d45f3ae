import type { Logger } from 'pino';
import { coerceError } from '../errors.ts';
import type { Store } from '../store/types.ts';

export interface SingletonLeaseOptions {
  store: Store;
  /** e.g. `pubsub:/event/D365_Account_Sync__e` */
  name: string;
  holder: string;
  ttlMs: number;
  logger: Logger;
  /** Start the singleton work (open the Pub/Sub subscription). */
  onAcquired(): Promise<void> | void;
  /** Stop it: the lease is gone or about to be released. */
  onLost(): Promise<void> | void;
}

/**
 * Keeps work that must run on one replica only (the Pub/Sub subscription) on exactly one: every
 * replica tries to take the named lease every third of its TTL; the holder renews it. When the
 * holder dies, its lease expires and another replica takes over within one TTL.
 */
export class SingletonLease {
  readonly #options: SingletonLeaseOptions;
  #timer: NodeJS.Timeout | null = null;
  #held = false;
  #tick: Promise<void> = Promise.resolve();

  constructor(options: SingletonLeaseOptions) {
    this.#options = options;
  }

  get held(): boolean {
    return this.#held;
  }

  start(): void {
    if (this.#timer) return;
    this.#tick = this.#attempt();
    this.#timer = setInterval(
      () => {
        this.#tick = this.#tick.then(() => this.#attempt());
      },
      Math.max(10, Math.floor(this.#options.ttlMs / 3))
    );
    this.#timer.unref();
  }

  /** Stops the work and frees the lease at once, so another replica need not wait for expiry. */
  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    await this.#tick;
    if (this.#held) {
      this.#held = false;
      await this.#options.onLost();
      await this.#options.store.releaseLease(this.#options.name, this.#options.holder);
    }
  }

  async #attempt(): Promise<void> {
    const { store, name, holder, ttlMs, logger } = this.#options;
    let granted: boolean;
    try {
      granted = await store.acquireLease(name, holder, ttlMs);
    } catch (err) {
      // Cannot prove we still hold it: stop rather than risk two subscribers.
      logger.warn({ err: coerceError(err), lease: name }, 'Lease renewal failed');
      granted = false;
    }
    if (granted && !this.#held) {
      this.#held = true;
      logger.info({ lease: name, holder }, 'Lease acquired');
      await this.#options.onAcquired();
    } else if (!granted && this.#held) {
      this.#held = false;
      logger.warn({ lease: name, holder }, 'Lease lost');
      await this.#options.onLost();
    }
  }
}
