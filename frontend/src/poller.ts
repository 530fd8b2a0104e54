// Live updates by long polling. Each tick is one request that the API holds until the workflow
// changes (GET /api/workflows/{id}?wait=20 with If-None-Match: the version last seen), so a change
// shows within about a second and an idle page asks once per 20 s. After an answer the next request
// goes out at once; one that came back unchanged sooner than MIN_IDLE_GAP_MS (an API that did not
// hold it) is spaced out to that, so an idle page never asks more than once per 5 s. Errors back off
// (1 s, growing to 5 s). Only while the page is visible (hiding it cuts the held request short),
// until told to stop (the workflow is terminal) or disposed (the person left the page). A kick (the
// person did something) cuts the held request short and asks again at once.

/** What one tick found: a new version, none (304), an error (back off), or the end of polling. */
export type TickOutcome = 'changed' | 'unchanged' | 'error' | 'stop'

/** One request; `signal` aborts it when the poller cuts it short (kick, hidden, stop, timeout). */
export type Tick = (signal: AbortSignal) => Promise<TickOutcome>

export const MIN_IDLE_GAP_MS = 5000
/** Between two requests even while the workflow keeps changing. */
export const MIN_GAP_MS = 200
/** A request held past the API's own limit (API Gateway answers by 30 s) is given up. */
export const TICK_TIMEOUT_MS = 35_000
const ERROR_INITIAL_MS = 1000
const ERROR_MAX_MS = 5000
const FACTOR = 1.5

/** Where visibility comes from: the page's `document` (tests pass their own). */
export interface VisibilitySource {
  readonly visibilityState: DocumentVisibilityState
  addEventListener(type: 'visibilitychange', listener: () => void): void
  removeEventListener(type: 'visibilitychange', listener: () => void): void
}

export class Poller {
  private timer: ReturnType<typeof setTimeout> | null = null
  /** The request under way; null when none is (or the one under way was cut short). */
  private current: AbortController | null = null
  /** The delay after the last error (0: the last tick did not fail). */
  private errorDelay = 0
  private running = false
  private disposed = false

  constructor(
    private readonly tick: Tick,
    private readonly doc: VisibilitySource = document,
  ) {}

  get active(): boolean {
    return this.running
  }

  /** Whether a request is under way. */
  get waiting(): boolean {
    return this.current !== null
  }

  start(): void {
    if (this.running || this.disposed) return
    this.running = true
    this.errorDelay = 0
    this.doc.addEventListener('visibilitychange', this.onVisibility)
    this.schedule(0)
  }

  stop(): void {
    this.running = false
    this.doc.removeEventListener('visibilitychange', this.onVisibility)
    this.clear()
    this.cutShort()
  }

  /** Stops for good: start() and kick() do nothing afterwards (the page is gone). */
  dispose(): void {
    this.disposed = true
    this.stop()
  }

  /** Ask again at once, cutting short a request under way: after the person did something. */
  kick(): void {
    if (this.disposed) return
    if (!this.running) {
      this.start()
      return
    }
    this.errorDelay = 0
    this.cutShort()
    this.schedule(0)
  }

  private readonly onVisibility = (): void => {
    if (!this.running) return
    if (this.doc.visibilityState === 'visible') {
      this.errorDelay = 0
      if (this.current === null) this.schedule(0)
    } else {
      this.clear()
      this.cutShort()
    }
  }

  private cutShort(): void {
    const held = this.current
    this.current = null
    held?.abort()
  }

  private clear(): void {
    if (this.timer !== null) clearTimeout(this.timer)
    this.timer = null
  }

  private schedule(ms: number): void {
    this.clear()
    if (!this.running || this.doc.visibilityState !== 'visible') return
    this.timer = setTimeout(() => void this.run(), ms)
  }

  private async run(): Promise<void> {
    this.timer = null
    if (!this.running || this.doc.visibilityState !== 'visible' || this.current !== null) return
    const controller = new AbortController()
    this.current = controller
    const started = Date.now()
    const watchdog = setTimeout(() => controller.abort(), TICK_TIMEOUT_MS)
    let outcome: TickOutcome
    try {
      outcome = await this.tick(controller.signal)
    } catch {
      outcome = 'error'
    } finally {
      clearTimeout(watchdog)
    }
    // Cut short (kick, hidden, stop): whoever did it decided what comes next.
    if (this.current !== controller) return
    this.current = null
    if (controller.signal.aborted && outcome !== 'stop') outcome = 'error' // held too long
    const elapsed = Date.now() - started
    switch (outcome) {
      case 'stop':
        this.stop()
        return
      case 'error':
        this.errorDelay = this.errorDelay ? Math.min(ERROR_MAX_MS, Math.round(this.errorDelay * FACTOR)) : ERROR_INITIAL_MS
        this.schedule(this.errorDelay)
        return
      case 'changed':
        this.errorDelay = 0
        this.schedule(Math.max(0, MIN_GAP_MS - elapsed))
        return
      case 'unchanged':
        this.errorDelay = 0
        this.schedule(Math.max(0, MIN_IDLE_GAP_MS - elapsed))
    }
  }
}
