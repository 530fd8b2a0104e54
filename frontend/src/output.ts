// Agent output on the page: text as readable paragraphs, JSON as a tree of collapsible
// <details>, each with a copy button. Never markup: every value goes in as a text node.

import { h } from './dom'

export type OutputKind = 'json' | 'text' | 'empty'

/** The text to show for an output and how to show it. A string that holds a JSON object or list
 * is shown as JSON; any other string as it is. `text` is also what a copy button copies. */
export function formatOutput(value: unknown): { kind: OutputKind; text: string } {
  const { kind, value: parsed } = parseOutput(value)
  if (kind === 'empty') return { kind, text: '' }
  if (kind === 'text') return { kind, text: String(parsed) }
  return { kind, text: JSON.stringify(parsed, null, 2) }
}

/** The output as a value to show: JSON text parsed, other text kept. */
function parseOutput(value: unknown): { kind: OutputKind; value: unknown } {
  if (value === null || value === undefined) return { kind: 'empty', value: null }
  if (typeof value === 'string') {
    const trimmed = value.trim()
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      try {
        return { kind: 'json', value: JSON.parse(trimmed) }
      } catch {
        // not JSON after all: text
      }
    }
    return { kind: 'text', value }
  }
  if (typeof value === 'number' || typeof value === 'boolean') return { kind: 'text', value: String(value) }
  return { kind: 'json', value }
}

/** Text as paragraphs (split at blank lines); single line breaks kept inside a paragraph. */
export function paragraphsOf(text: string): string[] {
  return text
    .replace(/\r\n?/g, '\n')
    .split(/\n[ \t]*\n/)
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
}

function renderText(text: string, className: string, testid?: string): HTMLElement {
  const paragraphs = paragraphsOf(text)
  return h(
    'div',
    { class: className, testid },
    paragraphs.length ? paragraphs.map((p) => h('p', {}, p)) : h('p', { class: 'muted' }, '(empty)'),
  )
}

/** Levels of the tree open at first (deeper ones start folded). */
const OPEN_LEVELS = 3

function isContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  return typeof value === 'object' && value !== null
}

/** "3 items", "1 field". */
function sizeOf(value: Record<string, unknown> | unknown[]): string {
  const n = Array.isArray(value) ? value.length : Object.keys(value).length
  const noun = Array.isArray(value) ? 'item' : 'field'
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

function leaf(value: unknown): HTMLElement {
  if (typeof value === 'string') {
    // Long text inside JSON reads as text, its line breaks kept.
    return h('span', { class: 'json-value json-value--string' }, value === '' ? '""' : value)
  }
  const kind = value === null ? 'null' : typeof value
  return h('span', { class: `json-value json-value--${kind}` }, value === null ? 'null' : String(value))
}

function entriesOf(value: Record<string, unknown> | unknown[]): [string, unknown][] {
  return Array.isArray(value) ? value.map((v, i) => [String(i + 1), v]) : Object.entries(value)
}

/** One level of the tree: a list of key → value, nested objects and lists as <details>. */
function treeEntries(value: Record<string, unknown> | unknown[], depth: number, path: string): HTMLElement {
  const list = Array.isArray(value)
  return h(
    list ? 'ol' : 'ul',
    { class: `json-entries${list ? ' json-entries--list' : ''}` },
    entriesOf(value).map(([key, child], i) => {
      // List items are numbered from 1 ("1."), fields named ("title:").
      const keyLabel = h('span', { class: 'json-key' }, list ? `${key}.` : `${key}:`)
      const childPath = `${path}-${i}`
      if (isContainer(child)) {
        const empty = Array.isArray(child) ? child.length === 0 : Object.keys(child).length === 0
        if (empty) return h('li', {}, keyLabel, ' ', h('span', { class: 'json-value muted' }, Array.isArray(child) ? '(empty list)' : '(nothing)'))
        const node = h(
          'details',
          { class: 'json-node', testid: childPath },
          h('summary', {}, keyLabel, ' ', h('span', { class: 'muted' }, sizeOf(child))),
          treeEntries(child, depth + 1, childPath),
        )
        node.open = depth + 1 < OPEN_LEVELS
        return h('li', {}, node)
      }
      return h('li', {}, keyLabel, ' ', leaf(child))
    }),
  )
}

/** A JSON value as a tree: objects and lists fold (<details>/<summary>); the rest as text. */
export function renderJsonTree(value: unknown, testid?: string): HTMLElement {
  if (!isContainer(value)) return h('div', { class: 'output output--json json-tree', testid }, leaf(value))
  const root = h('div', { class: 'output output--json json-tree', testid })
  root.appendChild(
    Object.keys(value).length === 0 && !Array.isArray(value)
      ? h('p', { class: 'muted' }, '(nothing)')
      : Array.isArray(value) && value.length === 0
        ? h('p', { class: 'muted' }, '(empty list)')
        : treeEntries(value, 0, testid ? `${testid}-node` : 'node'),
  )
  return root
}

/** An output: text as paragraphs, JSON as a tree. `testid` names the element (its nested nodes are
 * `<testid>-node-<i>-<j>…`). */
export function renderOutput(value: unknown, testid: string): HTMLElement {
  const parsed = parseOutput(value)
  if (parsed.kind === 'json') return renderJsonTree(parsed.value, testid)
  if (parsed.kind === 'empty') return h('div', { class: 'output output--empty', testid }, '(no output)')
  return renderText(String(parsed.value), 'output output--text', testid)
}

// --- copying ---------------------------------------------------------------------------------------

/** Puts `text` on the clipboard: the Clipboard API where the page may use it, else a hidden
 * textarea and document.execCommand('copy'). True when it worked. */
export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && typeof navigator.clipboard.writeText === 'function') {
      await navigator.clipboard.writeText(text)
      return true
    }
  } catch {
    // not allowed here (permissions, not a secure context): try the old way
  }
  const area = document.createElement('textarea')
  area.value = text
  area.setAttribute('readonly', '')
  area.setAttribute('aria-hidden', 'true')
  area.style.position = 'fixed'
  area.style.top = '0'
  area.style.left = '0'
  area.style.opacity = '0'
  document.body.appendChild(area)
  const focused = document.activeElement as HTMLElement | null
  area.select()
  let copied = false
  try {
    copied = typeof document.execCommand === 'function' && document.execCommand('copy')
  } catch {
    copied = false
  }
  area.remove()
  focused?.focus?.()
  return copied
}

/** How long "Copied" shows on a copy button. */
export const COPIED_MS = 2000

/** A button that copies `text()`; says "Copied" (announced) for a moment, or how to copy by hand. */
export function copyButton(text: () => string, what: string, testid: string): HTMLElement {
  const label = `Copy ${what}`
  const button = h('button', { type: 'button', class: 'button button--small button--secondary copy', testid, 'aria-label': label }, 'Copy') as HTMLButtonElement
  const said = h('span', { class: 'copy-status', role: 'status', testid: `${testid}-status` })
  let timer: ReturnType<typeof setTimeout> | undefined
  button.addEventListener('click', () => {
    void copyText(text()).then((ok) => {
      said.textContent = ok ? 'Copied' : 'Could not copy: select the text and copy it by hand.'
      button.dataset.copied = ok ? 'yes' : 'no'
      clearTimeout(timer)
      timer = setTimeout(() => {
        said.textContent = ''
        delete button.dataset.copied
      }, COPIED_MS)
    })
  })
  return h('span', { class: 'copy-wrap' }, button, said)
}

/** An output with its copy button (`<testid>-copy`). */
export function outputWithCopy(value: unknown, testid: string, what: string): HTMLElement[] {
  return [renderOutput(value, testid), h('div', { class: 'output-tools' }, copyButton(() => formatOutput(value).text, what, `${testid}-copy`))]
}
