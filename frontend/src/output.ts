// Agent output on the page: JSON readably (indented, in a <pre>), text as text. Never markup.

import { h } from './dom'

export type OutputKind = 'json' | 'text' | 'empty'

/** The text to show for an output and how to show it. A string that holds a JSON object or list
 * is shown as JSON; any other string as it is. */
export function formatOutput(value: unknown): { kind: OutputKind; text: string } {
  if (value === null || value === undefined) return { kind: 'empty', text: '' }
  if (typeof value === 'string') {
    const trimmed = value.trim()
    if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
      try {
        return { kind: 'json', text: JSON.stringify(JSON.parse(trimmed), null, 2) }
      } catch {
        // not JSON after all: text
      }
    }
    return { kind: 'text', text: value }
  }
  if (typeof value === 'number' || typeof value === 'boolean') return { kind: 'text', text: String(value) }
  return { kind: 'json', text: JSON.stringify(value, null, 2) }
}

export function renderOutput(value: unknown, testid: string): HTMLElement {
  const { kind, text } = formatOutput(value)
  if (kind === 'json') return h('pre', { class: 'output output--json', testid, tabindex: 0 }, text)
  return h('div', { class: `output output--${kind}`, testid }, kind === 'empty' ? '(no output)' : text)
}
