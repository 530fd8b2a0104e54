// How statuses read on the page: the API's step status, overridden by the page's own "paying"
// state while the wallet signs, sends and confirms a payment.

import { formatAlgo } from './algo'
import { repayStepsOf } from './repay'
import type { StepStatus, StepView, WorkflowStatus, WorkflowView } from './types'

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

// --- what to do next ---------------------------------------------------------------------------------

/** What the workflow page leads with: the one thing to do (or to wait for) now. */
export type NextActionKind = 'review' | 'start' | 'pay' | 'paying' | 'waiting' | 'preparing' | 'done' | 'failed' | 'cancelled'

export interface NextAction {
  kind: NextActionKind
  /** Changes exactly when the action does (kind, step, attempt): the page scrolls to it then. */
  key: string
  /** The step it is about, if any. */
  step: number | null
  /** The agent of that step. */
  agent: string
  title: string
  detail: string
  /** Something is under way (a spinner shows). */
  busy: boolean
}

/** Step statuses where the person waits for the agent (paid, the job runs). */
export const WAITING_STEP_STATUSES: ReadonlySet<string> = new Set(['payment_submitted', 'running'])
const STOPPED_STEP_STATUSES: ReadonlySet<string> = new Set(['failed', 'payment_timeout', 'cancelled'])

/** "step 2", "steps 1 and 2", "steps 1, 2 and 3". */
export function stepsInWords(numbers: readonly number[]): string {
  if (numbers.length === 1) return `step ${numbers[0]}`
  return `steps ${numbers.slice(0, -1).join(', ')} and ${numbers[numbers.length - 1]}`
}

/** The steps that have a confirmed payment (a receipt) for their current job. */
export function paidStepsOf(workflow: WorkflowView): number[] {
  return workflow.steps.filter((s) => !!s.receipt).map((s) => s.step_number)
}

/** What to do next on `workflow`. `phaseOf` gives the page's own paying phase of a step (if any). */
export function nextAction(workflow: WorkflowView, phaseOf: (n: number) => PayPhase | null = () => null): NextAction {
  const steps = [...workflow.steps].sort((a, b) => a.step_number - b.step_number)
  const count = steps.length
  const base = (kind: NextActionKind, step: StepView | null, title: string, detail: string, busy = false): NextAction => ({
    kind,
    key: `${kind}:${step?.step_number ?? ''}:${workflow.attempt}`,
    step: step?.step_number ?? null,
    agent: step?.agent_name ?? '',
    title,
    detail,
    busy,
  })
  const firstUndone = steps.find((s) => s.status !== 'succeeded') ?? null
  switch (workflow.status) {
    case 'planned':
      return base(
        'review',
        null,
        'Review the plan and approve',
        `Check the ${count === 1 ? 'step' : `${count} steps`} below and what each agent will get, then approve: ` +
          'Approve & start is below the steps. Nothing is paid yet: you sign each step’s payment when its turn comes.',
      )
    case 'approved':
      return base('start', null, 'Start the workflow', 'The plan is approved. Start it with the button below the steps.')
    case 'running': {
      const awaiting = steps.find((s) => s.status === 'awaiting_payment')
      if (awaiting) {
        const phase = phaseOf(awaiting.step_number)
        const price = `${formatAlgo(awaiting.price_microalgo)} plus network fees`
        if (phase !== null) {
          return base('paying', awaiting, `Paying step ${awaiting.step_number}: ${awaiting.agent_name}`, stepStatusView('awaiting_payment', phase).detail, true)
        }
        return base(
          'pay',
          awaiting,
          `Pay step ${awaiting.step_number}: ${awaiting.agent_name}`,
          `Your turn: ${awaiting.agent_name} starts once you pay ${price}. Sign & pay shows exactly what you will sign first.`,
        )
      }
      const waiting = steps.find((s) => WAITING_STEP_STATUSES.has(s.status))
      if (waiting) {
        const detail =
          waiting.status === 'payment_submitted'
            ? `Step ${waiting.step_number} of ${count}: your payment is confirmed; the agent is taking it.`
            : `Step ${waiting.step_number} of ${count}: paid; the agent is working on it.`
        return base('waiting', waiting, `Waiting for ${waiting.agent_name}`, detail, true)
      }
      const next = firstUndone
      return base(
        'preparing',
        next,
        next ? `Getting step ${next.step_number} ready: ${next.agent_name}` : 'Finishing the workflow',
        next ? 'Asking the agent for its price and payment; this takes a moment.' : 'Putting the final output together.',
        true,
      )
    }
    case 'completed':
      return base('done', null, 'Done', `All ${count === 1 ? 'the step has' : `${count} steps have`} finished. The final output:`)
    case 'failed': {
      const stopped = steps.find((s) => STOPPED_STEP_STATUSES.has(s.status)) ?? firstUndone
      const n = stopped?.step_number
      const timedOut = stopped?.status === 'payment_timeout'
      const what = n === undefined ? 'The workflow failed.' : timedOut ? `Step ${n}’s payment did not arrive in time.` : `Step ${n} (${stopped?.agent_name}) failed.`
      return base(
        'failed',
        stopped,
        n === undefined ? 'The workflow failed' : timedOut ? `Step ${n}: the payment timed out` : `Step ${n} failed`,
        `${what} What to do: resume to run it again from ${n === undefined ? 'where it stopped' : `step ${n}`}. ${afterResume(workflow)}`,
      )
    }
    case 'cancelled': {
      const next = firstUndone
      return base(
        'cancelled',
        next,
        'Cancelled',
        `Nothing more runs and nothing more is charged. Resume to continue${next ? ` from step ${next.step_number}` : ''}. ${afterResume(workflow)}`,
      )
    }
    default:
      return base('review', null, labelFor(WORKFLOW_LABELS, workflow.status), '')
  }
}

/** What resuming does to the steps done and paid, in words. */
function afterResume(workflow: WorkflowView): string {
  const repay = repayStepsOf(workflow)
  const paid = paidStepsOf(workflow).filter((n) => !repay.includes(n))
  const kept = `resuming will not charge the paid steps again${paid.length ? ` (${stepsInWords(paid)})` : ''}`
  const again = repay.length ? ` Only ${stepsInWords(repay)}, whose paid job the agent could not deliver, would be paid again, and only if you agree (below).` : ''
  return `Steps already done are not run again, and ${kept}.${again}`
}

/** "12 s", "3 min 05 s", "1 h 04 min": time since a wait began. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000))
  if (seconds < 60) return `${seconds} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes} min ${String(seconds % 60).padStart(2, '0')} s`
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`
}

/** What the cancel confirmation says (under its heading "Cancel the workflow?"): what stops, and
 * what happens to the steps already paid. */
export function cancelConfirmationText(workflow: WorkflowView): string {
  const paid = paidStepsOf(workflow)
  const paidLine = paid.length
    ? `You have paid for ${stepsInWords(paid)}: ${paid.length === 1 ? 'that payment is' : 'those payments are'} kept, and paid steps will not be charged again when you resume.`
    : 'Nothing has been paid yet. If you resume later, paid steps will not be charged again.'
  return `The steps still to come will not run and nothing more is charged. ${paidLine}`
}
