// "Exactly what will be signed": each unsigned transaction of a step's payment group, decoded with
// algosdk and described field by field, before the wallet is asked to sign anything.

import algosdk from 'algosdk'

import { formatAlgo } from './algo'
import { h } from './dom'

export class GroupDecodeError extends Error {}

const TYPE_LABELS: Record<string, string> = {
  pay: 'Payment',
  appl: 'Application call',
  axfer: 'Asset transfer',
  acfg: 'Asset configuration',
  afrz: 'Asset freeze',
  keyreg: 'Key registration',
  stpf: 'State proof',
  hb: 'Heartbeat',
}

const KNOWN_METHODS = ['pay(pay)void']

export interface TxnSummary {
  index: number
  txid: string
  type: string
  typeLabel: string
  sender: string
  receiver: string | null
  amountMicroalgo: bigint | null
  appId: string | null
  method: string | null
  feeMicroalgo: bigint
  note: string
  noteEncoding: 'none' | 'text' | 'base64'
  firstValid: bigint
  lastValid: bigint
  /** Anything a payment to an agent never needs; the page refuses to sign a group with warnings. */
  warnings: string[]
}

export interface GroupSummary {
  /** The decoded transactions: what the wallet is asked to sign. */
  transactions: algosdk.Transaction[]
  /** Their descriptions, in the same order. */
  txns: TxnSummary[]
  totalPaidMicroalgo: bigint
  totalFeesMicroalgo: bigint
  /** The last round in which every transaction of the group is still valid. */
  lastValid: bigint
  warnings: string[]
}

function bytesFromBase64(text: string): Uint8Array | null {
  try {
    return algosdk.base64ToBytes(text.trim())
  } catch {
    return null
  }
}

/** One unsigned transaction from base64 msgpack, or from base64 of that base64 text (some agents). */
export function decodeTransaction(blob: string): algosdk.Transaction {
  const once = bytesFromBase64(blob)
  if (once) {
    try {
      return algosdk.decodeUnsignedTransaction(once)
    } catch {
      const inner = new TextDecoder('ascii').decode(once)
      const twice = /^[A-Za-z0-9+/=\s]+$/.test(inner) ? bytesFromBase64(inner) : null
      if (twice) {
        try {
          return algosdk.decodeUnsignedTransaction(twice)
        } catch {
          // fall through
        }
      }
    }
  }
  throw new GroupDecodeError('A transaction of the payment group cannot be decoded as an unsigned Algorand transaction.')
}

export function decodeGroup(blobs: readonly string[]): algosdk.Transaction[] {
  if (blobs.length === 0) throw new GroupDecodeError('The payment group is empty.')
  return blobs.map(decodeTransaction)
}

function describeNote(note: Uint8Array): { note: string; noteEncoding: TxnSummary['noteEncoding'] } {
  if (note.length === 0) return { note: '', noteEncoding: 'none' }
  try {
    const text = new TextDecoder('utf-8', { fatal: true }).decode(note)
    // Printable text only; anything with control characters is shown as base64.
    if (!/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text)) return { note: text, noteEncoding: 'text' }
  } catch {
    // not UTF-8
  }
  return { note: algosdk.bytesToBase64(note), noteEncoding: 'base64' }
}

function methodName(appArgs: ReadonlyArray<Uint8Array>): string | null {
  const selector = appArgs[0]
  if (!selector || selector.length !== 4) return null
  const hex = algosdk.bytesToHex(selector)
  for (const signature of KNOWN_METHODS) {
    if (algosdk.bytesToHex(algosdk.ABIMethod.fromSignature(signature).getSelector()) === hex) return signature
  }
  return `selector 0x${hex}`
}

export function describeTransaction(txn: algosdk.Transaction, index: number, expectedSender?: string): TxnSummary {
  const type = String(txn.type)
  const sender = txn.sender.toString()
  const warnings: string[] = []
  let receiver: string | null = null
  let amountMicroalgo: bigint | null = null
  let appId: string | null = null
  let method: string | null = null
  if (txn.payment) {
    receiver = txn.payment.receiver.toString()
    amountMicroalgo = txn.payment.amount
    if (txn.payment.closeRemainderTo) {
      warnings.push(`closes your account and sends everything left to ${txn.payment.closeRemainderTo.toString()}`)
    }
  }
  if (txn.applicationCall) {
    appId = txn.applicationCall.appIndex.toString()
    method = methodName(txn.applicationCall.appArgs)
  }
  if (txn.rekeyTo) warnings.push(`hands control of your account to ${txn.rekeyTo.toString()} (rekey)`)
  if (type !== 'pay' && type !== 'appl') warnings.push(`is a ${TYPE_LABELS[type] ?? type} transaction, not a payment or app call`)
  if (expectedSender && sender !== expectedSender) warnings.push(`is sent by ${sender}, not by this workflow's wallet`)
  return {
    index,
    txid: txn.txID(),
    type,
    typeLabel: TYPE_LABELS[type] ?? type,
    sender,
    receiver,
    amountMicroalgo,
    appId,
    method,
    feeMicroalgo: txn.fee,
    ...describeNote(txn.note),
    firstValid: txn.firstValid,
    lastValid: txn.lastValid,
    warnings,
  }
}

export function summarizeGroup(blobs: readonly string[], expectedSender?: string): GroupSummary {
  const transactions = decodeGroup(blobs)
  const txns = transactions.map((txn, index) => describeTransaction(txn, index, expectedSender))
  const warnings = txns.flatMap((t) => t.warnings.map((w) => `Transaction ${t.index + 1} ${w}.`))
  return {
    transactions,
    txns,
    totalPaidMicroalgo: txns.reduce((sum, t) => sum + (t.amountMicroalgo ?? 0n), 0n),
    totalFeesMicroalgo: txns.reduce((sum, t) => sum + t.feeMicroalgo, 0n),
    lastValid: txns.reduce((min, t) => (t.lastValid < min ? t.lastValid : min), txns[0].lastValid),
    warnings,
  }
}

function field(label: string, value: string, testid: string, mono = false): HTMLElement[] {
  return [h('dt', {}, label), h('dd', { testid, class: mono ? 'mono' : null }, value)]
}

/** The preview as elements (text only). Test ids: `<prefix>-txn-<i>` with `-type`, `-sender`,
 * `-receiver`, `-amount`, `-app-id`, `-method`, `-fee`, `-note`, `-valid`; `<prefix>-total`,
 * `<prefix>-warnings`. */
export function renderGroupPreview(summary: GroupSummary, prefix: string): HTMLElement {
  const items = summary.txns.map((t) => {
    const id = `${prefix}-txn-${t.index}`
    const fields: HTMLElement[] = [
      ...field('Type', t.typeLabel, `${id}-type`),
      ...field('From', t.sender, `${id}-sender`, true),
    ]
    if (t.receiver !== null) fields.push(...field('To', t.receiver, `${id}-receiver`, true))
    if (t.amountMicroalgo !== null) fields.push(...field('Amount', formatAlgo(t.amountMicroalgo), `${id}-amount`))
    if (t.appId !== null) fields.push(...field('App id', t.appId, `${id}-app-id`))
    if (t.method !== null) fields.push(...field('Method', t.method, `${id}-method`))
    fields.push(...field('Fee', formatAlgo(t.feeMicroalgo), `${id}-fee`))
    const noteText = t.noteEncoding === 'none' ? '(none)' : t.noteEncoding === 'base64' ? `${t.note} (base64)` : t.note
    fields.push(...field('Note', noteText, `${id}-note`))
    fields.push(...field('Valid rounds', `${t.firstValid} – ${t.lastValid}`, `${id}-valid`))
    return h(
      'li',
      { class: 'txn', testid: id, 'data-type': t.type },
      h('h4', {}, `Transaction ${t.index + 1} of ${summary.txns.length}`),
      h('dl', { class: 'fields' }, fields),
    )
  })
  const total = `You pay ${formatAlgo(summary.totalPaidMicroalgo)} plus ${formatAlgo(summary.totalFeesMicroalgo)} in network fees.`
  return h(
    'div',
    { class: 'group-preview', testid: `${prefix}-group` },
    h('ol', { class: 'txns' }, items),
    h('p', { class: 'group-total', testid: `${prefix}-total` }, total),
    summary.warnings.length
      ? h(
          'div',
          { class: 'warning', role: 'alert', testid: `${prefix}-warnings` },
          h('p', {}, 'Do not sign: this group does more than pay the agent.'),
          h('ul', {}, summary.warnings.map((w) => h('li', {}, w))),
        )
      : null,
  )
}
