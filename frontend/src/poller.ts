// Live updates: poll with backoff (1 s, growing to 5 s; back to 1 s after a change or an action),
// only while the page is visible, until told to stop (the workflow is terminal).

/** Where visibility comes from: the page's `document` (tests pass their own). */
export interface VisibilitySource {
  readonly visibilityState: DocumentVisibilityState
  addEventListener(type: 'visibilitychange', listener: () => void): void
  removeEventListener(type: 'visibilitychange', listener: () => void): void
}

export interface PollerOptions {
  initialMs?: number
  maxMs?: number
  factor?: number
  doc?: VisibilitySource
}

/** `tick` returns true when something changed (the delay goes back to the start) and false when
 * polling should go on backing off; it returns null to stop polling. Errors back off too. */
export class Poller {
  private timer: ReturnType<typeof setTimeout> | null = null
  private delay: number
  private running = false
  private inFlight = false
  private readonly initialMs: number
  private readonly maxMs: number
  private readonly factor: number
  private readonly doc: VisibilitySource

  constructor(
    private readonly tick: () => Promise<boolean | null>,
    options: PollerOptions = {},
  ) {
    this.initialMs = options.initialMs ?? 1000
    this.maxMs = options.maxMs ?? 5000
    this.factor = options.factor ?? 1.5
    this.delay = this.initialMs
    this.doc = options.doc ?? document
  }

  get active(): boolean {
    return this.running
  }

  get currentDelayMs(): number {
    return this.delay
  }

  start(): void {
    if (this.running) return
    this.running = true
    this.delay = this.initialMs
    this.doc.addEventListener('visibilitychange', this.onVisibility)
    this.schedule(this.initialMs)
  }

  stop(): void {
    this.running = false
    this.doc.removeEventListener('visibilitychange', this.onVisibility)
    this.clear()
  }

  /** Poll again soon and from the shortest delay: after the person did something. */
  kick(): void {
    if (!this.running) {
      this.start()
      return
    }
    this.delay = this.initialMs
    this.schedule(0)
  }

  private readonly onVisibility = (): void => {
    if (!this.running) return
    if (this.doc.visibilityState === 'visible') {
      this.delay = this.initialMs
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
    this.delay = outcome ? this.initialMs : Math.min(this.maxMs, Math.round(this.delay * this.factor))
    this.schedule(this.delay)
  }
}
