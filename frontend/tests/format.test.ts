// @vitest-environment happy-dom
import { describe, expect, test } from 'vitest'

import { formatAlgo, shorten } from '../src/algo'
import { formatOutput, renderOutput } from '../src/output'

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
    const json = renderOutput({ html: attack }, 'out')
    expect(json.tagName).toBe('PRE')
    expect(json.dataset.testid).toBe('out')
    expect(json.querySelector('script, img')).toBeNull()
    expect(json.textContent).toContain('<script>')
  })
})
