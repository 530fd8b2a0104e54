// Money kept and money asked again, in words. A paid job the agent could not deliver (AgentLostJob,
// AgentJobFailed) runs again only as a new job that is paid again, and only with the person's
// consent (`repay_steps` on resume); a payment recorded after its step stopped waiting is never
// asked for again. Everything here reads the API's view; nothing is the page's own guess.

import { ApiError } from './api'
import { formatAlgo, shorten } from './algo'
import type { PaymentReceipt, StepView, WorkflowView } from './types'

/** The step errors after which the agent's job is over: a rerun is a new job, paid again. */
export const JOB_OVER_CODES: ReadonlySet<string> = new Set(['AgentLostJob', 'AgentJobFailed'])

const RESUMABLE = new Set(['failed', 'cancelled'])
/** Step statuses that no longer wait for a payment and are not done: a receipt there is a late one. */
const STOPPED = new Set(['payment_timeout', 'failed', 'cancelled'])

function isResumable(workflow: WorkflowView): boolean {
  return RESUMABLE.has(workflow.status)
}

/** A step whose paid job the agent could not deliver: resuming pays for it again. */
export function needsRepay(step: StepView): boolean {
  return step.status === 'failed' && !!step.receipt && !!step.error && JOB_OVER_CODES.has(step.error.code)
}

/** The steps a resume would pay for again (only while the workflow can be resumed). */
export function repayStepsOf(workflow: WorkflowView): number[] {
  if (!isResumable(workflow)) return []
  return workflow.steps.filter(needsRepay).map((s) => s.step_number)
}

/** Steps with a payment recorded after they stopped waiting for it: resuming continues without a
 * new payment. */
export function recordedPaymentStepsOf(workflow: WorkflowView): number[] {
  if (!isResumable(workflow)) return []
  return workflow.steps.filter((s) => STOPPED.has(s.status) && !!s.receipt && !needsRepay(s)).map((s) => s.step_number)
}

/** The steps a 409 RepayConsentRequired names (`details.repay_steps`); [] when it names none;
 * null for any other error. */
export function repayStepsAsked(error: unknown): number[] | null {
  if (!(error instanceof ApiError) || error.status !== 409 || error.code !== 'RepayConsentRequired') return null
  const listed = (error.details as { repay_steps?: unknown } | null | undefined)?.repay_steps
  if (!Array.isArray(listed)) return []
  return listed.filter((n): n is number => Number.isInteger(n) && n > 0)
}

/** "TXA…, TXB…": a receipt's transaction ids, shortened as on the rest of the page. */
export function receiptTxids(receipt: PaymentReceipt): string {
  return receipt.txn_ids.map((t) => shorten(t)).join(', ')
}

/** "Paid 0.5 ALGO to ABCDEF…UVWXYZ in round 42 (txid …)". */
export function receiptText(receipt: PaymentReceipt): string {
  return `Paid ${formatAlgo(receipt.amount_microalgo)} to ${shorten(receipt.receiver)} in round ${receipt.confirmed_round} (txid ${receiptTxids(receipt)})`
}

/** What paying again for step n means, in words. `step` is the step as the view has it (its
 * price and the kept receipt); absent when a 409 named a step the view does not show yet. */
export function repayExplanation(n: number, step: StepView | undefined): string {
  const price = step ? ` (${formatAlgo(step.price_microalgo)})` : ''
  const receipt = step?.receipt ? ` (txid ${receiptTxids(step.receipt)})` : ''
  return (
    `Step ${n}: the agent could not deliver the job you paid for. Resuming runs step ${n} again as a new job, ` +
    `and you will pay for it again${price}. Your earlier payment's receipt${receipt} is kept.`
  )
}

export function recordedPaymentText(n: number): string {
  return `Your payment for step ${n} is recorded. Resume to continue; you will not be asked to pay again.`
}

/** "step 2", "steps 2 and 3", "steps 2, 3 and 4". */
function stepList(numbers: readonly number[]): string {
  if (numbers.length === 1) return `step ${numbers[0]}`
  return `steps ${numbers.slice(0, -1).join(', ')} and ${numbers[numbers.length - 1]}`
}

/** The consent button's label: "Pay again for step 2 and resume". */
export function repayButtonLabel(numbers: readonly number[]): string {
  return `Pay again for ${stepList(numbers)} and resume`
}
