// Paying one step: get the offered group (a fresh one when it expired), let the person see exactly
// what will be signed, sign with the wallet, send it to algod, wait for confirmation, then hand the
// txids to the API. Independent of the page, so it can be driven from a script too.

import algosdk from 'algosdk'

import type { ApiClient } from './api'
import { summarizeGroup, type GroupSummary } from './groupPreview'
import type { PayPhase } from './status'
import type { StepView } from './types'

export type SignGroup = (txns: algosdk.Transaction[]) => Promise<(Uint8Array | null)[]>

export interface PaymentContext {
  api: ApiClient
  algod: algosdk.Algodv2
  workflowId: string
  /** The workflow's wallet: every transaction must come from it. */
  walletAddress: string
  onPhase?: (phase: PayPhase) => void
  /** Called before asking the agent for a fresh group (the offered one expired). */
  onRequote?: () => void
}

/** What the person is shown before signing, and then signs. */
export interface PaymentOffer {
  stepNumber: number
  /** The decoded group (`summary.transactions`) and what the person is shown of it. */
  summary: GroupSummary
  /** True when the expired group was replaced by a fresh one from the agent. */
  requoted: boolean
  /** Set when the offered group is already confirmed on chain (paid before a reload): no signing. */
  paidInRound: bigint | null
}

export class OfferExpired extends Error {
  constructor() {
    super('The payment offer expired before it was signed; here is a fresh one.')
    this.name = 'OfferExpired'
  }
}

export class PaymentError extends Error {}

/** The re-quote found the step already paid: its earlier group was confirmed on chain and the API
 * recorded it (a receipt, the step submitted or running). Nothing is to be signed; `step` is the
 * step as the API has it now. */
export class AlreadyPaid extends Error {
  constructor(readonly step: StepView) {
    super(`Your earlier payment for step ${step.step_number} is confirmed on chain and recorded; you do not pay again.`)
    this.name = 'AlreadyPaid'
  }
}

/** A group whose last valid round is not after the current round cannot make it into the next block. */
export function isExpired(lastValid: bigint | number, currentRound: bigint | number): boolean {
  return BigInt(lastValid) <= BigInt(currentRound)
}

async function currentRound(algod: algosdk.Algodv2): Promise<bigint> {
  const status = await algod.status().do()
  return status.lastRound
}

/** The round the transaction was confirmed in, or null when algod does not know it as confirmed. */
async function confirmedRound(algod: algosdk.Algodv2, txid: string): Promise<bigint | null> {
  try {
    const info = await algod.pendingTransactionInformation(txid).do()
    return info.confirmedRound && info.confirmedRound > 0n ? info.confirmedRound : null
  } catch {
    return null
  }
}

/** The txids of the offered group, in order. */
export function offerTxnIds(offer: PaymentOffer): string[] {
  return offer.summary.txns.map((t) => t.txid)
}

/** A deterministic key: a repeat of the same payment (retry, reload) is answered once. */
export function submitPaymentKey(workflowId: string, stepNumber: number, txnIds: readonly string[]): string {
  return `pay-${workflowId}-${stepNumber}-${txnIds[0] ?? ''}`.slice(0, 255)
}

function offerFrom(step: StepView, walletAddress: string, requoted: boolean): PaymentOffer {
  const blobs = step.unsigned_group_txns ?? []
  if (blobs.length === 0) throw new PaymentError(`Step ${step.step_number} has no payment group to sign right now.`)
  const summary = summarizeGroup(blobs, walletAddress)
  const offer: PaymentOffer = { stepNumber: step.step_number, summary, requoted, paidInRound: null }
  const offered = step.txn_ids ?? []
  if (offered.length && offered.join(',') !== offerTxnIds(offer).join(',')) {
    summary.warnings.push('The transaction ids the agent gave do not match the transactions.')
  }
  return offer
}

/** The offer to show for an awaiting-payment step: the stored group, a fresh one when it expired,
 * or the stored one marked as already paid when its first transaction is confirmed on chain.
 * Throws AlreadyPaid when the re-quote answers with the step already paid. */
export async function prepareOffer(ctx: PaymentContext, step: StepView): Promise<PaymentOffer> {
  if (step.status !== 'awaiting_payment') {
    throw new PaymentError(`Step ${step.step_number} is not waiting for a payment.`)
  }
  const stored = step.unsigned_group_txns?.length ? offerFrom(step, ctx.walletAddress, false) : null
  if (stored) {
    const round = await confirmedRound(ctx.algod, offerTxnIds(stored)[0])
    if (round !== null) return { ...stored, paidInRound: round }
  }
  const now = await currentRound(ctx.algod)
  const lastValid = step.last_valid_round ?? stored?.summary.lastValid ?? null
  if (stored && lastValid !== null && !isExpired(lastValid, now)) return stored
  ctx.onRequote?.()
  const fresh = await ctx.api.startJob(ctx.workflowId, step.step_number)
  // The earlier group made it on chain after all: the step is paid, never offer a second payment.
  if (fresh.receipt || fresh.status !== 'awaiting_payment') throw new AlreadyPaid(fresh)
  return offerFrom(fresh, ctx.walletAddress, true)
}

/** What algosdk's error says: algod's own message when it answered, else the error's. */
function algodErrorText(error: unknown): string {
  if (error instanceof Error) {
    const body = (error as { response?: { body?: { message?: unknown } } }).response?.body
    if (body && typeof body.message === 'string') return body.message
    return error.message
  }
  return String(error)
}

/** Signs (unless already paid), sends, confirms and submits the offer; the step as the API then has it.
 * Throws OfferExpired when the group expired since it was shown (show the fresh offer instead). */
export async function payOffer(ctx: PaymentContext, offer: PaymentOffer, sign: SignGroup): Promise<StepView> {
  if (offer.summary.warnings.length) throw new PaymentError('This payment group is not safe to sign.')
  const txnIds = offerTxnIds(offer)
  if (offer.paidInRound === null) {
    if (isExpired(offer.summary.lastValid, await currentRound(ctx.algod))) throw new OfferExpired()
    const txns = offer.summary.transactions
    ctx.onPhase?.('signing')
    let signed: (Uint8Array | null)[]
    try {
      signed = await sign(txns)
    } catch (error) {
      throw new PaymentError(`The wallet did not sign: ${algodErrorText(error)}`)
    }
    const complete = signed.filter((s): s is Uint8Array => s instanceof Uint8Array)
    if (complete.length !== txns.length) {
      throw new PaymentError(
        `The wallet signed ${complete.length} of ${txns.length} transactions: connect the account ${ctx.walletAddress}.`,
      )
    }
    ctx.onPhase?.('sending')
    try {
      await ctx.algod.sendRawTransaction(complete).do()
    } catch (error) {
      const text = algodErrorText(error)
      // Sent before (a retry): the chain has it already, which is what we want.
      if (!/already in ledger/i.test(text)) throw new PaymentError(`The network refused the payment: ${text}`)
    }
    ctx.onPhase?.('confirming')
    try {
      await algosdk.waitForConfirmation(ctx.algod, txnIds[0], 20)
    } catch (error) {
      throw new PaymentError(`The payment was not confirmed: ${algodErrorText(error)}`)
    }
  }
  ctx.onPhase?.('submitting')
  return ctx.api.submitPayment(ctx.workflowId, offer.stepNumber, txnIds, submitPaymentKey(ctx.workflowId, offer.stepNumber, txnIds))
}
