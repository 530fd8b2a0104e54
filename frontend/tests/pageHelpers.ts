// What the page tests share: waiting for the page to show something, and finding it by test id.

/** Resolves with `probe()`'s first truthy value; fails after `ms`. */
export async function waitFor<T>(probe: () => T | null | undefined | false, ms = 3000): Promise<T> {
  const end = Date.now() + ms
  for (;;) {
    const value = probe()
    if (value) return value
    if (Date.now() > end) throw new Error('timed out')
    await new Promise((r) => setTimeout(r, 20))
  }
}

export const $ = (root: ParentNode, testid: string): HTMLElement | null => root.querySelector(`[data-testid="${testid}"]`)

export const visible = (el: HTMLElement | null): boolean => !!el && !el.closest('[hidden]')
