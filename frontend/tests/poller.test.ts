import { afterEach, beforeEach, expect, test, vi } from 'vitest'

import { MIN_GAP_MS, MIN_IDLE_GAP_MS, Poller, TICK_TIMEOUT_MS, type TickOutcome } from '../src/poller'

class FakeDocument {
  visibilityState: DocumentVisibilityState = 'visible'
  private listeners: (() => void)[] = []
  addEventListener(_: string, listener: () => void): void {
    this.listeners.push(listener)
  }
  removeEventListener(_: string, listener: () => void): void {
    this.listeners = this.listeners.filter((l) => l !== listener)
  }
  set(state: DocumentVisibilityState): void {
    this.visibilityState = state
    for (const l of this.listeners) l()
  }
  get listenerCount(): number {
    return this.listeners.length
  }
}

beforeEach(() => vi.useFakeTimers())
afterEach(() => vi.useRealTimers())

const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  ms <= 0
    ? Promise.resolve()
    : new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, ms)
        signal?.addEventListener('abort', () => {
          clearTimeout(timer)
          reject(new DOMException('aborted', 'AbortError'))
        })
      })

/** Request times as expected, give or take the fake timers' 1 ms for a timeout of 0 set in a timer. */
function expectTimes(actual: number[], expected: number[]): void {
  expect(actual).toHaveLength(expected.length)
  actual.forEach((t, i) => expect(Math.abs(t - expected[i]), `request ${i} at ${t}, not ${expected[i]}`).toBeLessThanOrEqual(5))
}

/** A tick as the API answers a long poll: held `holdMs` (cut short by its signal), then `outcome`.
 * Records when each request went out, and which were cut short. */
function longPoll(holdMs: number, outcomes: TickOutcome[] = []) {
  const start = Date.now()
  const sent: number[] = []
  const aborted: number[] = []
  const tick = async (signal: AbortSignal): Promise<TickOutcome> => {
    const n = sent.push(Date.now() - start) - 1
    signal.addEventListener('abort', () => aborted.push(n))
    await sleep(holdMs, signal)
    return outcomes.shift() ?? 'unchanged'
  }
  return { tick, sent, aborted }
}

test('an answered long poll is followed at once by the next: an idle page asks once per hold', async () => {
  const api = longPoll(20_000)
  const poller = new Poller(api.tick, new FakeDocument())
  poller.start()
  await vi.advanceTimersByTimeAsync(61_000)
  poller.stop()
  expectTimes(api.sent, [0, 20_000, 40_000, 60_000])
})

test('an API that answers "unchanged" at once is asked at most once per 5 s', async () => {
  const api = longPoll(0)
  const poller = new Poller(api.tick, new FakeDocument())
  poller.start()
  await vi.advanceTimersByTimeAsync(20_000)
  poller.stop()
  expectTimes(api.sent, [0, 5000, 10_000, 15_000, 20_000])
  expect(MIN_IDLE_GAP_MS).toBe(5000)
})

test('a change is followed by the next request at once (at least 200 ms after the last)', async () => {
  const api = longPoll(50, ['changed', 'changed', 'unchanged'])
  const poller = new Poller(api.tick, new FakeDocument())
  poller.start()
  await vi.advanceTimersByTimeAsync(6000)
  poller.stop()
  expectTimes(api.sent, [0, MIN_GAP_MS, 2 * MIN_GAP_MS, 2 * MIN_GAP_MS + MIN_IDLE_GAP_MS])
})

test('errors back off from 1 s to 5 s; an answer brings polling back to at once; stop ends it', async () => {
  const outcomes: TickOutcome[] = ['error', 'error', 'error', 'error', 'error', 'error', 'changed', 'error', 'stop']
  const api = longPoll(0, outcomes)
  const doc = new FakeDocument()
  const poller = new Poller(api.tick, doc)
  poller.start()
  await vi.advanceTimersByTimeAsync(60_000)
  expectTimes(api.sent, [0, 1000, 2500, 4750, 8125, 13_125, 18_125, 18_325, 19_325])
  expect(poller.active).toBe(false)
  expect(doc.listenerCount).toBe(0)
})

test('a tick that throws counts as an error', async () => {
  let ticks = 0
  const poller = new Poller(async () => {
    ticks++
    throw new Error('offline')
  }, new FakeDocument())
  poller.start()
  await vi.advanceTimersByTimeAsync(2500)
  expect(ticks).toBe(3) // at 0, 1000 and 2500
  poller.stop()
})

test('hiding the page cuts the held request short and asks nothing; showing it asks at once', async () => {
  const doc = new FakeDocument()
  const api = longPoll(20_000)
  const poller = new Poller(api.tick, doc)
  poller.start()
  await vi.advanceTimersByTimeAsync(3000)
  doc.set('hidden')
  await vi.advanceTimersByTimeAsync(0)
  expect([api.sent, api.aborted, poller.waiting]).toEqual([[0], [0], false])
  await vi.advanceTimersByTimeAsync(60_000)
  expect(api.sent).toEqual([0])
  doc.set('visible')
  await vi.advanceTimersByTimeAsync(0)
  expect(api.sent).toEqual([0, 63_000])
  poller.stop()
  expect(api.aborted).toEqual([0, 1])
})

test('kick cuts the held request short and asks again at once; the cut one is forgotten', async () => {
  const start = Date.now()
  const sent: number[] = []
  const cut: boolean[] = []
  // The first request does not end when aborted (an answer already on its way) and says stop: forgotten.
  const poller = new Poller(async (signal) => {
    const n = sent.push(Date.now() - start)
    await sleep(20_000)
    cut.push(signal.aborted)
    return n === 1 ? 'stop' : 'unchanged'
  }, new FakeDocument())
  poller.start()
  await vi.advanceTimersByTimeAsync(4000)
  poller.kick()
  await vi.advanceTimersByTimeAsync(0)
  expectTimes(sent, [0, 4000])
  await vi.advanceTimersByTimeAsync(16_000) // the cut request ends: ignored
  expect([cut, poller.active, poller.waiting]).toEqual([[true], true, true])
  await vi.advanceTimersByTimeAsync(4010) // the second ends unchanged: the next goes out at once
  expectTimes(sent, [0, 4000, 24_000])
  poller.stop()
})

test('a request held past the API gateway limit is given up and asked again after 1 s', async () => {
  const api = longPoll(10 * 60_000)
  const poller = new Poller(api.tick, new FakeDocument())
  poller.start()
  await vi.advanceTimersByTimeAsync(TICK_TIMEOUT_MS + 1000)
  expectTimes(api.sent, [0, TICK_TIMEOUT_MS + 1000])
  expect(api.aborted).toEqual([0])
  poller.stop()
})

test('after dispose, kick and start poll no more and leave no listener behind', async () => {
  const doc = new FakeDocument()
  const api = longPoll(20_000)
  const poller = new Poller(api.tick, doc)
  poller.start()
  await vi.advanceTimersByTimeAsync(1000)
  expect(api.sent).toEqual([0])
  poller.dispose()
  expect(api.aborted).toEqual([0])
  expect(doc.listenerCount).toBe(0)
  poller.kick()
  poller.start()
  doc.set('visible')
  await vi.advanceTimersByTimeAsync(60_000)
  expect(api.sent).toEqual([0])
  expect(poller.active).toBe(false)
  expect(doc.listenerCount).toBe(0)
})
