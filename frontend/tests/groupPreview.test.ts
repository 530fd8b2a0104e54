// @vitest-environment happy-dom
import algosdk from 'algosdk'
import { describe, expect, test } from 'vitest'

import { GroupDecodeError, decodeTransaction, renderGroupPreview, summarizeGroup } from '../src/groupPreview'
import { AGENT, APP_ID, PAYER, STRANGER, encode, paymentGroup } from './fixtures'

const text = (root: ParentNode, testid: string): string | null =>
  root.querySelector(`[data-testid="${testid}"]`)?.textContent ?? null

describe('summarizeGroup: a payment + app call group as agents offer it', () => {
  const txns = paymentGroup({ amount: 500_000, fee: 1000, lastValid: 1100 })
  const summary = summarizeGroup(encode(txns), PAYER)

  test('the payment shows its receiver and amount in ALGO', () => {
    const [pay] = summary.txns
    expect(pay.type).toBe('pay')
    expect(pay.typeLabel).toBe('Payment')
    expect(pay.sender).toBe(PAYER)
    expect(pay.receiver).toBe(AGENT)
    expect(pay.amountMicroalgo).toBe(500_000n)
    expect(text(renderGroupPreview(summary, 'p'), 'p-txn-0-amount')).toBe('0.5 ALGO')
    expect(pay.appId).toBeNull()
  })

  test('the app call shows its app id and ABI method', () => {
    const call = summary.txns[1]
    expect(call.type).toBe('appl')
    expect(call.typeLabel).toBe('Application call')
    expect(call.appId).toBe(String(APP_ID))
    expect(call.method).toBe('pay(pay)void')
    expect(call.receiver).toBeNull()
    expect(call.amountMicroalgo).toBeNull()
    expect(text(renderGroupPreview(summary, 'p'), 'p-txn-1-amount')).toBeNull()
  })

  test('fees, note, validity and txids come from the transactions themselves', () => {
    const preview = renderGroupPreview(summary, 'p')
    for (const [i, t] of summary.txns.entries()) {
      expect(t.feeMicroalgo).toBe(1000n)
      expect(text(preview, `p-txn-${i}-fee`)).toBe('0.001 ALGO')
      expect(t.note).toBe('job 42')
      expect(t.noteEncoding).toBe('text')
      expect(t.firstValid).toBe(100n)
      expect(t.lastValid).toBe(1100n)
      expect(t.txid).toBe(txns[i].txID())
      expect(summary.transactions[i].txID()).toBe(txns[i].txID())
    }
    expect(summary.totalPaidMicroalgo).toBe(500_000n)
    expect(summary.totalFeesMicroalgo).toBe(2000n)
    expect(summary.lastValid).toBe(1100n)
    expect(summary.warnings).toEqual([])
  })
})

describe('renderGroupPreview', () => {
  test('renders every field a person checks before signing', () => {
    const summary = summarizeGroup(encode(paymentGroup({ amount: 1_234_567, fee: 2000 })), PAYER)
    const root = renderGroupPreview(summary, 'p')
    expect(text(root, 'p-txn-0-type')).toBe('Payment')
    expect(text(root, 'p-txn-0-sender')).toBe(PAYER)
    expect(text(root, 'p-txn-0-receiver')).toBe(AGENT)
    expect(text(root, 'p-txn-0-amount')).toBe('1.234567 ALGO')
    expect(text(root, 'p-txn-0-fee')).toBe('0.002 ALGO')
    expect(text(root, 'p-txn-0-note')).toBe('job 42')
    expect(text(root, 'p-txn-0-valid')).toBe('100 – 1100')
    expect(text(root, 'p-txn-0-app-id')).toBeNull()
    expect(text(root, 'p-txn-1-type')).toBe('Application call')
    expect(text(root, 'p-txn-1-app-id')).toBe('1001')
    expect(text(root, 'p-txn-1-method')).toBe('pay(pay)void')
    expect(text(root, 'p-txn-1-fee')).toBe('0.002 ALGO')
    expect(text(root, 'p-txn-1-receiver')).toBeNull()
    expect(text(root, 'p-total')).toBe('You pay 1.234567 ALGO plus 0.004 ALGO in network fees.')
    expect(root.querySelector('[data-testid="p-warnings"]')).toBeNull()
    expect(root.querySelectorAll('li.txn')).toHaveLength(2)
  })

  test('a note with markup is shown as text, never as HTML', () => {
    const note = new TextEncoder().encode('<img src=x onerror="alert(1)">')
    const root = renderGroupPreview(summarizeGroup(encode(paymentGroup({ note })), PAYER), 'p')
    expect(text(root, 'p-txn-0-note')).toBe('<img src=x onerror="alert(1)">')
    expect(root.querySelector('img')).toBeNull()
  })

  test('a binary note is shown as base64 and says so', () => {
    const note = new Uint8Array([0, 1, 2, 255])
    const root = renderGroupPreview(summarizeGroup(encode(paymentGroup({ note })), PAYER), 'p')
    expect(text(root, 'p-txn-0-note')).toBe('AAEC/w== (base64)')
  })

  test('a group that rekeys, closes the account or pays from another wallet is flagged', () => {
    const blobs = encode(paymentGroup({ rekeyTo: STRANGER, closeRemainderTo: STRANGER }))
    const summary = summarizeGroup(blobs, PAYER)
    expect(summary.warnings).toEqual([
      `Transaction 1 closes your account and sends everything left to ${STRANGER}.`,
      `Transaction 1 hands control of your account to ${STRANGER} (rekey).`,
    ])
    const other = summarizeGroup(encode(paymentGroup({ sender: STRANGER })), PAYER)
    expect(other.warnings).toEqual([
      `Transaction 1 is sent by ${STRANGER}, not by this workflow's wallet.`,
      `Transaction 2 is sent by ${STRANGER}, not by this workflow's wallet.`,
    ])
    const root = renderGroupPreview(summary, 'p')
    expect(text(root, 'p-warnings')).toContain('Do not sign')
  })
})

describe('decoding', () => {
  test('double-base64 transactions (some agents send them) decode to the same transaction', () => {
    const [blob] = encode(paymentGroup())
    const twice = algosdk.bytesToBase64(new TextEncoder().encode(blob))
    expect(decodeTransaction(twice).txID()).toBe(decodeTransaction(blob).txID())
  })

  test('anything else is a GroupDecodeError', () => {
    expect(() => decodeTransaction('not base64 at all!')).toThrow(GroupDecodeError)
    expect(() => decodeTransaction(algosdk.bytesToBase64(new Uint8Array([1, 2, 3])))).toThrow(GroupDecodeError)
    expect(() => summarizeGroup([])).toThrow('The payment group is empty.')
  })
})
