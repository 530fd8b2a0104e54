import { afterEach, beforeEach, expect, test, vi } from 'vitest'

import { Poller } from '../src/poller'

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

async function run(poller: Poller, ms: number): Promise<void> {
  poller.start()
  await vi.advanceTimersByTimeAsync(ms)
}

test('backs off from 1 s to 5 s while nothing changes', async () => {
  const times: number[] = []
  const start = Date.now()
  const poller = new Poller(async () => (times.push(Date.now() - start), false), new FakeDocument())
  await run(poller, 20_000)
  poller.stop()
  expect(times).toEqual([1000, 2500, 4750, 8125, 13125, 18125])
})

test('a change brings the delay back to 1 s; null stops polling', async () => {
  const answers = [false, false, true, false, null]
  const times: number[] = []
  const start = Date.now()
  const doc = new FakeDocument()
  const poller = new Poller(async () => {
    times.push(Date.now() - start)
    const next = answers.shift()
    return next === undefined ? false : next
  }, doc)
  await run(poller, 30_000)
  expect(times).toEqual([1000, 2500, 4750, 5750, 7250])
  expect(poller.active).toBe(false)
  expect(doc.listenerCount).toBe(0)
})

test('polls only while the page is visible, and at once when it shows again', async () => {
  const doc = new FakeDocument()
  let ticks = 0
  const poller = new Poller(async () => (ticks++, false), doc)
  await run(poller, 1000)
  expect(ticks).toBe(1)
  doc.set('hidden')
  await vi.advanceTimersByTimeAsync(60_000)
  expect(ticks).toBe(1)
  doc.set('visible')
  await vi.advanceTimersByTimeAsync(0)
  expect(ticks).toBe(2)
  expect(poller.currentDelayMs).toBe(1500)
  poller.stop()
})

test('errors back off like "no change"; kick polls at once from 1 s', async () => {
  let ticks = 0
  const poller = new Poller(
    async () => {
      ticks++
      throw new Error('offline')
    },
    new FakeDocument(),
  )
  await run(poller, 2500)
  expect([ticks, poller.currentDelayMs]).toEqual([2, 2250])
  poller.kick()
  await vi.advanceTimersByTimeAsync(0)
  expect([ticks, poller.currentDelayMs]).toEqual([3, 1500])
  poller.stop()
})

test('after dispose, kick and start poll no more and leave no listener behind', async () => {
  const doc = new FakeDocument()
  let ticks = 0
  const poller = new Poller(async () => (ticks++, false), doc)
  await run(poller, 1000)
  expect(ticks).toBe(1)
  poller.dispose()
  expect(doc.listenerCount).toBe(0)
  poller.kick()
  poller.start()
  doc.set('visible')
  await vi.advanceTimersByTimeAsync(60_000)
  expect(ticks).toBe(1)
  expect(poller.active).toBe(false)
  expect(doc.listenerCount).toBe(0)
})
