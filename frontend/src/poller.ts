// Live updates: poll with backoff (1 s, growing to 5 s; back to 1 s after a change or an action),
// only while the page is visible, until told to stop (the workflow is terminal) or disposed (the
// person left the page).

const INITIAL_MS = 1000
const MAX_MS = 5000
const FACTOR = 1.5

/** Where visibility comes from: the page's `document` (tests pass their own). */
export interface VisibilitySource {
  readonly visibilityState: DocumentVisibilityState
  addEventListener(type: 'visibilitychange', listener: () => void): void
  removeEventListener(type: 'visibilitychange', listener: () => void): void
}

/** `tick` returns true when something changed (the delay goes back to the start) and false when
 * polling should go on backing off; it returns null to stop polling. Errors back off too. */
export class Poller {
  private timer: ReturnType<typeof setTimeout> | null = null
  private delay = INITIAL_MS
  private running = false
  private disposed = false
  private inFlight = false

  constructor(
    private readonly tick: () => Promise<boolean | null>,
    private readonly doc: VisibilitySource = document,
  ) {}

  get active(): boolean {
    return this.running
  }

  get currentDelayMs(): number {
    return this.delay
  }

  start(): void {
    if (this.running || this.disposed) return
    this.running = true
    this.delay = INITIAL_MS
    this.doc.addEventListener('visibilitychange', this.onVisibility)
    this.schedule(INITIAL_MS)
  }

  stop(): void {
    this.running = false
    this.doc.removeEventListener('visibilitychange', this.onVisibility)
    this.clear()
  }

  /** Stops for good: start() and kick() do nothing afterwards (the page is gone). */
  dispose(): void {
    this.disposed = true
    this.stop()
  }

  /** Poll again soon and from the shortest delay: after the person did something. */
  kick(): void {
    if (this.disposed) return
    if (!this.running) {
      this.start()
      return
    }
    this.delay = INITIAL_MS
    this.schedule(0)
  }

  private readonly onVisibility = (): void => {
    if (!this.running) return
    if (this.doc.visibilityState === 'visible') {
      this.delay = INITIAL_MS
      this.schedule(0)
    } else {
      this.clear()
    }
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
    if (!this.running || this.doc.visibilityState !== 'visible') return
    if (this.inFlight) {
      this.schedule(this.delay)
      return
    }
    this.inFlight = true
    let outcome: boolean | null
    try {
      outcome = await this.tick()
    } catch {
      outcome = false
    } finally {
      this.inFlight = false
    }
    if (outcome === null) {
      this.stop()
      return
    }
    this.delay = outcome ? INITIAL_MS : Math.min(MAX_MS, Math.round(this.delay * FACTOR))
    this.schedule(this.delay)
  }
}
