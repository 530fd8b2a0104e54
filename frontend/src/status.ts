// How statuses read on the page: the API's step status, overridden by the page's own "paying"
// state while the wallet signs, sends and confirms a payment.

import type { StepStatus, WorkflowStatus } from './types'

/** The page's own steps of a payment, while the step still awaits it on the API's side. */
export type PayPhase = 'signing' | 'sending' | 'confirming' | 'submitting'

export interface StatusView {
  /** Stable key: the API status, or "paying" (also the `data-status` attribute). */
  key: StepStatus | 'paying'
  label: string
  /** CSS classes: `status status--<key>` plus `status--done` / `status--bad` / `status--active`. */
  className: string
  /** What the page is doing right now while paying (else empty). */
  detail: string
}

const STEP_LABELS: Record<StepStatus, string> = {
  pending: 'Pending',
  awaiting_payment: 'Awaiting payment',
  payment_submitted: 'Payment submitted',
  running: 'Running',
  succeeded: 'Succeeded',
  failed: 'Failed',
  payment_timeout: 'Payment timed out',
  cancelled: 'Cancelled',
}

const PHASE_DETAILS: Record<PayPhase, string> = {
  signing: 'Waiting for your wallet to sign…',
  sending: 'Sending the payment to the network…',
  confirming: 'Waiting for the network to confirm the payment…',
  submitting: 'Handing the confirmed payment to the agent…',
}

const WORKFLOW_LABELS: Record<WorkflowStatus, string> = {
  planned: 'Planned: review and approve',
  approved: 'Approved',
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
}

// Tones of step and workflow statuses alike (anything else is idle: pending, planned, approved).
const DONE: ReadonlySet<string> = new Set(['succeeded', 'completed'])
const BAD: ReadonlySet<string> = new Set(['failed', 'payment_timeout', 'cancelled'])
const ACTIVE: ReadonlySet<string> = new Set(['awaiting_payment', 'paying', 'payment_submitted', 'running'])

function classesFor(key: string): string {
  const tone = DONE.has(key) ? 'status--done' : BAD.has(key) ? 'status--bad' : ACTIVE.has(key) ? 'status--active' : 'status--idle'
  return `status status--${key.replace(/_/g, '-')} ${tone}`
}

/** The label of a known status; a status this page does not know yet reads as it is. */
function labelFor(labels: Readonly<Record<string, string>>, key: string): string {
  return Object.prototype.hasOwnProperty.call(labels, key) ? labels[key] : String(key)
}

/** The status a step shows. The local paying phase counts only while the API still awaits payment:
 * once the API has moved on (submitted, running, failed…), its status wins. */
export function stepStatusView(apiStatus: StepStatus, phase: PayPhase | null = null): StatusView {
  if (phase !== null && apiStatus === 'awaiting_payment') {
    return { key: 'paying', label: 'Paying', className: classesFor('paying'), detail: PHASE_DETAILS[phase] }
  }
  return { key: apiStatus, label: labelFor(STEP_LABELS, apiStatus), className: classesFor(apiStatus), detail: '' }
}

export function workflowStatusView(status: WorkflowStatus): { label: string; className: string } {
  return { label: labelFor(WORKFLOW_LABELS, status), className: classesFor(status) }
}
