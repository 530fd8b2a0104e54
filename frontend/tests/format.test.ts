// @vitest-environment happy-dom
import { afterEach, describe, expect, test, vi } from 'vitest'

import { formatAlgo, shorten } from '../src/algo'
import { copyButton, copyText, formatOutput, paragraphsOf, renderOutput } from '../src/output'

describe('formatAlgo', () => {
  test.each([
    [0, '0 ALGO'],
    [1, '0.000001 ALGO'],
    [1000, '0.001 ALGO'],
    [250_000, '0.25 ALGO'],
    [1_000_000, '1 ALGO'],
    [1_500_000, '1.5 ALGO'],
    [1_234_567_890_123n, '1,234,567.890123 ALGO'],
    [-2_000_000, '-2 ALGO'],
  ])('%s µALGO is %s', (micro, expected) => {
    expect(formatAlgo(micro)).toBe(expected)
  })
})

test('shorten keeps both ends of long ids', () => {
  expect(shorten('ABCDEFGHIJKLMNOPQRSTUVWXYZ')).toBe('ABCDEF…UVWXYZ')
  expect(shorten('SHORT')).toBe('SHORT')
})

describe('agent output', () => {
  test('objects and JSON text are indented JSON; other text stays text', () => {
    expect(formatOutput({ a: 1, b: [true] })).toEqual({ kind: 'json', text: '{\n  "a": 1,\n  "b": [\n    true\n  ]\n}' })
    expect(formatOutput('  {"x": "y"} ')).toEqual({ kind: 'json', text: '{\n  "x": "y"\n}' })
    expect(formatOutput('{not json')).toEqual({ kind: 'text', text: '{not json' })
    expect(formatOutput('plain words')).toEqual({ kind: 'text', text: 'plain words' })
    expect(formatOutput(42)).toEqual({ kind: 'text', text: '42' })
    expect(formatOutput(null)).toEqual({ kind: 'empty', text: '' })
  })

  test('output with markup is rendered as text (no XSS)', () => {
    const attack = '<script>window.pwned = true</script><img src=x onerror="window.pwned = true">'
    const text = renderOutput(attack, 'out')
    expect(text.textContent).toBe(attack)
    expect(text.querySelector('script, img')).toBeNull()
    const json = renderOutput({ html: attack, deeper: { list: [attack] } }, 'out')
    expect(json.classList.contains('json-tree')).toBe(true)
    expect(json.dataset.testid).toBe('out')
    expect(json.querySelector('script, img')).toBeNull()
    expect(json.textContent).toContain('<script>')
  })

  test('text reads as paragraphs: blank lines part them, single line breaks stay inside', () => {
    expect(paragraphsOf('One.\n\nTwo,\nstill two.\r\n\r\n  \n\nThree.')).toEqual(['One.', 'Two,\nstill two.', 'Three.'])
    const out = renderOutput('First paragraph.\n\nSecond paragraph.', 'out')
    expect(out.tagName).toBe('DIV')
    expect(Array.from(out.querySelectorAll('p')).map((p) => p.textContent)).toEqual(['First paragraph.', 'Second paragraph.'])
    // A JSON string is a tree, other strings text; numbers read as text.
    expect(renderOutput('{"a": 1}', 'x').classList.contains('json-tree')).toBe(true)
    expect(renderOutput(7, 'x').textContent).toBe('7')
    expect(renderOutput(null, 'x').textContent).toBe('(no output)')
  })

  test('JSON is a tree: keys and values as text, objects and lists fold in <details>', () => {
    const value = { title: 'Paddington', cast: ['Ben', 'Hugh'], about: { year: 2014, rated: { uk: 'PG' } }, none: null, empty: [] }
    const tree = renderOutput(value, 'out')
    const top = Array.from(tree.querySelector('ul')?.children ?? []).map((li) => li.textContent)
    expect(top[0]).toBe('title: Paddington')
    expect(top[3]).toBe('none: null')
    expect(top[4]).toBe('empty: (empty list)')
    const cast = tree.querySelector('[data-testid="out-node-1"]') as HTMLDetailsElement
    expect(cast.tagName).toBe('DETAILS')
    expect(cast.querySelector('summary')?.textContent).toBe('cast: 2 items')
    expect(Array.from(cast.querySelectorAll('ol > li')).map((li) => li.textContent)).toEqual(['1. Ben', '2. Hugh'])
    expect(cast.open).toBe(true)
    const about = tree.querySelector('[data-testid="out-node-2"]') as HTMLDetailsElement
    expect(about.querySelector('summary')?.textContent).toBe('about: 2 fields')
    const rated = tree.querySelector('[data-testid="out-node-2-1"]') as HTMLDetailsElement
    expect(rated.open).toBe(true)
    expect(rated.textContent).toContain('uk: PG')
    // What a copy button copies: the JSON, indented.
    expect(formatOutput(value).text).toBe(JSON.stringify(value, null, 2))
  })
})

describe('copying', () => {
  afterEach(() => {
    vi.restoreAllMocks()
    vi.unstubAllGlobals()
  })

  test('the Clipboard API when the page may use it', async () => {
    const writeText = vi.fn(async () => {})
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } })
    expect(await copyText('TXID1')).toBe(true)
    expect(writeText).toHaveBeenCalledWith('TXID1')
  })

  test('refused (no permission): a hidden textarea and execCommand("copy")', async () => {
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText: vi.fn(async () => Promise.reject(new Error('denied'))) } })
    const copied: string[] = []
    ;(document as unknown as { execCommand: (c: string) => boolean }).execCommand = (command: string) => {
      const area = document.querySelector('textarea') as HTMLTextAreaElement
      copied.push(`${command}:${area.value}`)
      return true
    }
    expect(await copyText('full text')).toBe(true)
    expect(copied).toEqual(['copy:full text'])
    expect(document.querySelector('textarea')).toBeNull()
  })

  test('a copy button says Copied, or how to copy by hand when nothing worked', async () => {
    const writeText = vi.fn(async () => {})
    vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } })
    const wrap = copyButton(() => 'hello', 'greeting', 'c')
    document.body.appendChild(wrap)
    const button = wrap.querySelector('button') as HTMLButtonElement
    expect(button.getAttribute('aria-label')).toBe('Copy greeting')
    button.click()
    await vi.waitFor(() => expect(wrap.querySelector('[data-testid="c-status"]')?.textContent).toBe('Copied'))
    expect(writeText).toHaveBeenCalledWith('hello')
    vi.stubGlobal('navigator', { ...navigator, clipboard: undefined })
    ;(document as unknown as { execCommand: (c: string) => boolean }).execCommand = () => false
    button.click()
    await vi.waitFor(() =>
      expect(wrap.querySelector('[data-testid="c-status"]')?.textContent).toBe('Could not copy: select the text and copy it by hand.'),
    )
    wrap.remove()
  })
})
