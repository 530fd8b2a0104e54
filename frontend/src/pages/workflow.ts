// /workflow/<id>: the plan, approval, each step's live status and payment, outputs.
// Everything shown comes from the API (GET /api/workflows/{id}), so a reload mid-workflow shows the
// same page; only the "paying" state (wallet signing, sending, confirming) is the page's own.
//
// Test ids (n = step number, i = transaction index from 0): see frontend/README.md.

import { ApiError, NotSignedIn, errorLines, errorText, newIdempotencyKey } from '../api'
import { formatAlgo, shorten } from '../algo'
import { h, replaceChildren, setText, show } from '../dom'
import { renderGroupPreview } from '../groupPreview'
import { renderOutput } from '../output'
import { AlreadyPaid, OfferExpired, payOffer, prepareOffer, type PaymentContext, type PaymentOffer } from '../payment'
import { Poller, type TickOutcome } from '../poller'
import {
  receiptText,
  recordedPaymentStepsOf,
  recordedPaymentText,
  repayButtonLabel,
  repayExplanation,
  repayStepsAsked,
  repayStepsOf,
} from '../repay'
import { stepStatusView, workflowStatusView, type PayPhase } from '../status'
import { TERMINAL_WORKFLOW_STATUSES, type ErrorInfo, type StepView, type WorkflowView } from '../types'
import { algodOf, walletPanel } from '../wallet'
import type { Page, PageContext } from './context'

interface LocalStep {
  phase: PayPhase | null
  /** Getting the offer ready for the preview (a round check, maybe a re-quote): text to show. */
  preparing: string
  offer: PaymentOffer | null
  notice: string
  error: string
  /** Said once a re-quote found the step already paid (shown while the step submits or runs). */
  paidNote: string
}

/** Errors that polling again will not cure: no such workflow, not allowed, not signed in. */
function isFinal(error: unknown): boolean {
  return error instanceof NotSignedIn || (error instanceof ApiError && [401, 403, 404].includes(error.status))
}

/** An error the API recorded on a workflow or step: its message and code. */
function recordedError(error: ErrorInfo | null | undefined): string {
  return error ? `${error.message} (${error.code})` : ''
}

// What each output section shows now (its JSON), so an unchanged output is not rebuilt.
const outputShown = new WeakMap<HTMLElement, string>()

/** Fills `section` with a heading and the output, or hides it when there is no output yet. */
function outputSection(section: HTMLElement, value: unknown, heading: () => HTMLElement, testid: string): void {
  const has = value !== null && value !== undefined
  const key = has ? JSON.stringify(value) : ''
  if (outputShown.get(section) !== key) {
    outputShown.set(section, key)
    replaceChildren(section, has ? [heading(), renderOutput(value, testid)] : [])
  }
  show(section, has)
}

class StepCard {
  readonly element: HTMLElement
  private readonly status: HTMLElement
  private readonly input: HTMLElement
  private readonly inputLabel: HTMLElement
  private readonly payButton: HTMLButtonElement
  private readonly preview: HTMLElement
  private readonly previewBody: HTMLElement
  private readonly previewNotice: HTMLElement
  private readonly confirmButton: HTMLButtonElement
  private readonly backButton: HTMLButtonElement
  private readonly confirmHint: HTMLElement
  private readonly payDetail: HTMLElement
  private readonly payError: HTMLElement
  private readonly receipt: HTMLElement
  private readonly earlierReceipts: HTMLElement
  private readonly output: HTMLElement
  private readonly stepError: HTMLElement
  private inputShown = ''
  private earlierShown = ''
  private previewShown: PaymentOffer | null = null

  constructor(
    readonly n: number,
    step: StepView,
    handlers: { pay(n: number): void; confirm(n: number): void; back(n: number): void },
  ) {
    this.status = h('span', { testid: `step-status-${n}`, 'aria-live': 'polite' })
    this.inputLabel = h('h4', {}, 'Input')
    this.input = h('div', { testid: `step-input-${n}` })
    this.payButton = h('button', { type: 'button', class: 'button button--primary', testid: `step-pay-${n}` }, 'Sign & pay') as HTMLButtonElement
    this.payButton.addEventListener('click', () => handlers.pay(n))
    this.previewNotice = h('p', { class: 'notice', testid: `step-preview-notice-${n}` })
    this.previewBody = h('div')
    this.confirmButton = h('button', { type: 'button', class: 'button button--primary', testid: `step-confirm-pay-${n}` }, 'Sign with wallet') as HTMLButtonElement
    this.confirmButton.addEventListener('click', () => handlers.confirm(n))
    this.backButton = h('button', { type: 'button', class: 'button button--secondary', testid: `step-cancel-pay-${n}` }, 'Back') as HTMLButtonElement
    this.backButton.addEventListener('click', () => handlers.back(n))
    this.confirmHint = h('p', { class: 'muted', testid: `step-confirm-hint-${n}` })
    this.preview = h(
      'section',
      { class: 'preview', testid: `step-preview-${n}`, 'aria-labelledby': `step-preview-heading-${n}` },
      h('h4', { id: `step-preview-heading-${n}`, tabindex: -1 }, 'What you will sign'),
      this.previewNotice,
      this.previewBody,
      this.confirmHint,
      h('div', { class: 'actions' }, this.confirmButton, this.backButton),
    )
    this.payDetail = h('p', { class: 'muted', testid: `step-pay-detail-${n}`, 'aria-live': 'polite' })
    this.payError = h('div', { class: 'error', role: 'alert', testid: `step-pay-error-${n}` })
    this.receipt = h('p', { class: 'receipt', testid: `step-receipt-${n}` })
    this.earlierReceipts = h('ul', { class: 'earlier-receipts', testid: `step-earlier-receipts-${n}`, 'aria-label': `Earlier payments for step ${n}` })
    this.output = h('div', { class: 'step-output' })
    this.stepError = h('div', { class: 'error', testid: `step-error-${n}` })
    this.element = h(
      'li',
      { class: 'step card', testid: `step-${n}`, 'aria-labelledby': `step-heading-${n}` },
      h(
        'header',
        { class: 'step-header' },
        h('h3', { id: `step-heading-${n}` }, `Step ${n}: `, h('span', { testid: `step-agent-${n}` }, step.agent_name)),
        this.status,
      ),
      h('p', { testid: `step-description-${n}` }, step.description),
      h('p', { class: 'price' }, 'Price: ', h('strong', { testid: `step-price-${n}` }, formatAlgo(step.price_microalgo))),
      this.inputLabel,
      this.input,
      this.payButton,
      this.preview,
      this.payDetail,
      this.payError,
      this.receipt,
      this.earlierReceipts,
      this.stepError,
      this.output,
    )
  }

  update(step: StepView, local: LocalStep, canPay: boolean, walletNote: string): void {
    const view = stepStatusView(step.status, local.phase)
    setText(this.status, view.label)
    this.status.className = view.className
    this.status.dataset.status = view.key
    this.element.dataset.status = view.key

    const resolved = step.resolved_input
    const inputValue = resolved ?? step.input_data
    const inputKey = JSON.stringify([resolved !== null && resolved !== undefined, inputValue])
    if (inputKey !== this.inputShown) {
      this.inputShown = inputKey
      setText(this.inputLabel, resolved !== null && resolved !== undefined ? 'Input' : 'Planned input')
      replaceChildren(this.input, renderOutput(inputValue, `step-input-value-${this.n}`))
    }

    const awaiting = step.status === 'awaiting_payment'
    show(this.payButton, awaiting && canPay && local.phase === null && !local.preparing && local.offer === null)
    const offer = awaiting ? local.offer : null
    show(this.preview, offer !== null)
    if (offer !== this.previewShown) {
      this.previewShown = offer
      replaceChildren(this.previewBody, offer ? renderGroupPreview(offer.summary, `step-preview-${this.n}`) : '')
    }
    setText(this.previewNotice, offer ? local.notice : '')
    show(this.previewNotice, !!(offer && local.notice))
    if (offer) {
      const unsafe = offer.summary.warnings.length > 0
      const blocked = unsafe || (!!walletNote && offer.paidInRound === null)
      this.confirmButton.disabled = blocked || local.phase !== null
      setText(this.confirmButton, offer.paidInRound !== null ? 'Hand the payment to the agent' : 'Sign with wallet')
      setText(this.confirmHint, unsafe ? 'Signing is disabled for this group.' : offer.paidInRound === null ? walletNote : '')
      this.backButton.disabled = local.phase !== null
    }
    const paidNote = step.status === 'payment_submitted' || step.status === 'running' ? local.paidNote : ''
    const detail = view.detail || (awaiting ? local.preparing : paidNote)
    setText(this.payDetail, detail)
    show(this.payDetail, !!detail)
    setText(this.payError, local.error)
    show(this.payError, !!local.error)

    const receipt = step.receipt
    setText(this.receipt, receipt ? receiptText(receipt) : '')
    this.receipt.title = receipt ? receipt.txn_ids.join(', ') : ''
    show(this.receipt, !!receipt)

    // Payments for earlier jobs of this step that the agent could not deliver: kept, shown as such.
    const earlier = step.earlier_receipts ?? []
    const earlierKey = JSON.stringify(earlier)
    if (earlierKey !== this.earlierShown) {
      this.earlierShown = earlierKey
      replaceChildren(
        this.earlierReceipts,
        earlier.map((r, i) =>
          h('li', { class: 'receipt', testid: `step-earlier-receipt-${this.n}-${i}`, title: r.txn_ids.join(', ') }, `Earlier payment, kept: ${receiptText(r)}`),
        ),
      )
    }
    show(this.earlierReceipts, earlier.length > 0)

    setText(this.stepError, recordedError(step.error))
    show(this.stepError, !!step.error)

    outputSection(this.output, step.output, () => h('h4', {}, 'Output'), `step-output-${this.n}`)
  }

  focusPreview(): void {
    this.preview.querySelector<HTMLElement>('h4')?.focus()
  }
}

/** How long the API may hold a live-update request (its maximum): an idle page asks once per 20 s. */
export const LONG_POLL_SECONDS = 20

export function workflowIdFromPath(pathname: string): string | null {
  const match = /^\/workflow\/([^/]+)\/?$/.exec(pathname)
  if (!match) return null
  try {
    return decodeURIComponent(match[1])
  } catch {
    return null
  }
}

export const workflowPage = (workflowId: string): Page => (root: HTMLElement, ctx: PageContext) => {
  let workflow: WorkflowView | null = null
  let lastSeen = ''
  /** The version of the workflow last answered (its ETag), and the order of requests for it. */
  let etag: string | null = null
  let requested = 0
  let answered = 0
  let actionBusy = false
  let disposed = false
  /** Steps a resume was refused for (409 RepayConsentRequired) until the person agrees to pay again. */
  let consentAsked: number[] = []
  let focusConsent = false
  const locals = new Map<number, LocalStep>()
  const cards = new Map<number, StepCard>()
  const local = (n: number): LocalStep => {
    let entry = locals.get(n)
    if (!entry) {
      entry = { phase: null, preparing: '', offer: null, notice: '', error: '', paidNote: '' }
      locals.set(n, entry)
    }
    return entry
  }

  const title = h('h1', { tabindex: -1, testid: 'page-title' }, 'Workflow')
  const loading = h('p', { testid: 'workflow-loading', 'aria-live': 'polite' }, 'Loading the workflow…')
  const pageError = h('div', { class: 'error', role: 'alert', testid: 'page-error' })
  const pollError = h('p', { class: 'warning-line', testid: 'poll-error', 'aria-live': 'polite' })
  const status = h('span', { testid: 'workflow-status', 'aria-live': 'polite' })
  const request = h('p', { testid: 'workflow-request', class: 'quote' })
  const reasoning = h('p', { testid: 'workflow-reasoning' })
  const walletLine = h('span', { testid: 'workflow-wallet', class: 'mono address' })
  const total = h('strong', { testid: 'workflow-total' })
  const workflowError = h('div', { class: 'error', testid: 'workflow-error' })
  const approveStart = h('button', { type: 'button', class: 'button button--primary', testid: 'approve-start' }, 'Approve & start')
  const cancel = h('button', { type: 'button', class: 'button button--secondary', testid: 'cancel' }, 'Cancel workflow')
  const resume = h('button', { type: 'button', class: 'button button--primary', testid: 'resume' }, 'Resume')
  // Paid jobs the agent could not deliver: what resuming costs again, and the consent to it.
  const repayNotice = h('div', { class: 'notice', id: 'repay-notice', testid: 'repay-notice' })
  const repayResume = h('button', { type: 'button', class: 'button button--primary', testid: 'resume-repay', 'aria-describedby': 'repay-notice' }, 'Pay again and resume')
  // Payments recorded after their step stopped waiting: resuming does not ask for them again.
  const recordedNotice = h('div', { class: 'notice notice--ok', id: 'payment-recorded', testid: 'payment-recorded' })
  const actionStatus = h('p', { class: 'muted', testid: 'action-status', 'aria-live': 'polite' })
  const walletMismatch = h('p', { class: 'warning-line', testid: 'wallet-mismatch', role: 'status' })
  const stepsList = h('ol', { class: 'steps', testid: 'steps' })
  const finalOutput = h('section', { class: 'card final', testid: 'final-output-section', 'aria-labelledby': 'final-heading' })
  const panel = walletPanel(ctx.wallets, () => render())

  const summary = h(
    'section',
    { class: 'card', 'aria-labelledby': 'plan-heading', testid: 'workflow-summary' },
    h('div', { class: 'step-header' }, h('h2', { id: 'plan-heading' }, 'Plan'), status),
    h('h3', {}, 'Your request'),
    request,
    h('h3', {}, "The planner's reasoning"),
    reasoning,
    h('p', {}, 'Total cost: ', total),
    h('p', { class: 'wallet-line' }, 'Pays from: ', walletLine),
    workflowError,
    repayNotice,
    recordedNotice,
    h('div', { class: 'actions' }, approveStart, resume, repayResume, cancel),
    actionStatus,
  )
  const body = h('div', { class: 'workflow-body' }, summary, panel.element, walletMismatch, h('h2', {}, 'Steps'), stepsList, finalOutput)
  show(body, false)
  root.replaceChildren(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/orchestrator', testid: 'new-request-link' }, 'New request')),
    title,
    loading,
    pageError,
    pollError,
    body,
  )
  show(pollError, false)

  const paymentContext = (): PaymentContext => ({
    api: ctx.api,
    algod: algodOf(ctx.wallets),
    workflowId,
    walletAddress: workflow?.wallet_address ?? '',
  })

  const walletNote = (): string => {
    if (!workflow) return ''
    const active = ctx.wallets.activeAddress
    if (!active) return `Connect the wallet ${shorten(workflow.wallet_address)} to sign.`
    if (active !== workflow.wallet_address) return `The connected account is not this workflow's wallet (${shorten(workflow.wallet_address)}).`
    return ''
  }

  function render(): void {
    if (!workflow || disposed) return
    const wf = workflow
    show(loading, false)
    show(body, true)
    setText(title, `Workflow ${shorten(wf.workflow_id, 8, 4)}`)
    title.title = wf.workflow_id
    const wfView = workflowStatusView(wf.status)
    setText(status, wfView.label)
    status.className = wfView.className
    status.dataset.status = wf.status
    setText(request, wf.user_message)
    setText(reasoning, wf.reasoning)
    setText(total, formatAlgo(wf.total_cost_microalgo))
    setText(walletLine, wf.wallet_address)
    setText(workflowError, recordedError(wf.error))
    show(workflowError, !!wf.error && wf.status !== 'cancelled')

    show(approveStart, wf.status === 'planned' || wf.status === 'approved')
    setText(approveStart, wf.status === 'approved' ? 'Start' : 'Approve & start')
    const resumable = wf.status === 'failed' || wf.status === 'cancelled'
    const repay = toRepay()
    show(resume, resumable && repay.length === 0)
    show(cancel, wf.status === 'planned' || wf.status === 'approved' || wf.status === 'running')
    for (const button of [approveStart, resume, repayResume, cancel]) button.toggleAttribute('disabled', actionBusy)

    const repayKey = JSON.stringify(repay.map((n) => [n, repayExplanation(n, stepOf(n))]))
    if (repayNotice.dataset.shown !== repayKey) {
      repayNotice.dataset.shown = repayKey
      replaceChildren(repayNotice, repay.map((n) => h('p', { testid: `repay-step-${n}` }, repayExplanation(n, stepOf(n)))))
    }
    show(repayNotice, repay.length > 0)
    setText(repayResume, repay.length ? repayButtonLabel(repay) : '')
    show(repayResume, repay.length > 0)

    const recorded = recordedPaymentStepsOf(wf).filter((n) => !repay.includes(n))
    const recordedKey = recorded.join(',')
    if (recordedNotice.dataset.shown !== recordedKey) {
      recordedNotice.dataset.shown = recordedKey
      replaceChildren(recordedNotice, recorded.map((n) => h('p', { testid: `payment-recorded-${n}` }, recordedPaymentText(n))))
    }
    show(recordedNotice, recorded.length > 0)
    if (recorded.length) resume.setAttribute('aria-describedby', 'payment-recorded')
    else resume.removeAttribute('aria-describedby')

    const note = walletNote()
    const needsWallet = wf.steps.some((s) => s.status === 'awaiting_payment')
    setText(walletMismatch, needsWallet ? note : '')
    show(walletMismatch, needsWallet && !!note)

    if (cards.size !== wf.steps.length || wf.steps.some((s) => !cards.has(s.step_number))) {
      cards.clear()
      replaceChildren(stepsList)
      for (const step of wf.steps) {
        const card = new StepCard(step.step_number, step, { pay: startPayment, confirm: confirmPayment, back: dropOffer })
        cards.set(step.step_number, card)
        stepsList.appendChild(card.element)
      }
    }
    for (const step of wf.steps) {
      cards.get(step.step_number)?.update(step, local(step.step_number), wf.status === 'running', note)
    }

    outputSection(finalOutput, wf.final_output, () => h('h2', { id: 'final-heading' }, 'Final output'), 'final-output')
  }

  /** The steps a resume pays for again: those the view shows as paid jobs the agent could not
   * deliver, and any a refused resume named; in step order. Only while resuming is possible. */
  function toRepay(): number[] {
    if (!workflow || (workflow.status !== 'failed' && workflow.status !== 'cancelled')) return []
    return Array.from(new Set([...repayStepsOf(workflow), ...consentAsked])).sort((a, b) => a - b)
  }

  /** Takes a fresh view from the API; true when anything changed. */
  function accept(next: WorkflowView): boolean {
    const seen = JSON.stringify(next)
    const changed = seen !== lastSeen
    lastSeen = seen
    workflow = next
    // A refusal to resume without consent holds only while the workflow still waits for a resume.
    if (next.status !== 'failed' && next.status !== 'cancelled') consentAsked = []
    for (const step of next.steps) {
      const entry = local(step.step_number)
      // The API moved on (paid elsewhere, timed out, cancelled): drop a stale offer.
      if (step.status !== 'awaiting_payment' && entry.phase === null && !entry.preparing) {
        entry.offer = null
        entry.notice = ''
      }
    }
    render()
    return changed
  }

  /** Fetches the workflow. With `waitSeconds`, a long poll: the API holds the request until the
   * workflow differs from the version last seen (its ETag), or answers 304 after that long.
   * 'changed' when the API sent a new version, 'unchanged' when not (304, or the same view again),
   * 'gone' when the page is gone or the request was cut short meanwhile. An answer overtaken by a
   * later request's is dropped ('changed': ask again with the newest version). */
  async function refresh(waitSeconds = 0, signal?: AbortSignal): Promise<'changed' | 'unchanged' | 'gone'> {
    const asked = ++requested
    const sent = waitSeconds > 0 ? etag : null
    const answer = await ctx.api.getWorkflowVersion(workflowId, { etag: sent, waitSeconds, signal })
    if (disposed || signal?.aborted) return 'gone'
    setText(pollError, '')
    show(pollError, false)
    if (asked < answered) return 'changed'
    answered = asked
    if (answer.workflow === null) return 'unchanged'
    const newVersion = answer.etag !== null && answer.etag !== sent
    etag = answer.etag
    const changed = accept(answer.workflow)
    return newVersion || changed ? 'changed' : 'unchanged'
  }

  const busyPaying = (): boolean => Array.from(locals.values()).some((l) => l.phase !== null || !!l.preparing)

  const poller = new Poller(async (signal): Promise<TickOutcome> => {
    try {
      const outcome = await refresh(LONG_POLL_SECONDS, signal)
      if (outcome === 'gone') return disposed ? 'stop' : 'changed'
      if (workflow && TERMINAL_WORKFLOW_STATUSES.has(workflow.status) && !busyPaying()) return 'stop'
      return outcome
    } catch (err) {
      if (disposed) return 'stop'
      if (signal.aborted) return 'error' // cut short: the poller knows why
      if (isFinal(err)) {
        replaceChildren(pageError, errorLines(err))
        return 'stop'
      }
      setText(pollError, `Live updates paused: ${errorText(err)} Retrying…`)
      show(pollError, true)
      return 'error'
    }
  })

  /** Runs an action; `handled` may take an error it explains itself (then no page error). */
  async function act(label: string, action: () => Promise<WorkflowView>, handled: (err: unknown) => boolean = () => false): Promise<void> {
    if (actionBusy) return
    actionBusy = true
    replaceChildren(pageError)
    setText(actionStatus, label)
    render()
    try {
      accept(await action())
      setText(actionStatus, '')
    } catch (err) {
      if (!handled(err)) replaceChildren(pageError, errorLines(err))
      setText(actionStatus, '')
      try {
        await refresh()
      } catch {
        // the error above says enough
      }
    } finally {
      actionBusy = false
      render()
      // The consent button appeared for a refused resume: take the person there (once enabled).
      if (focusConsent && !repayResume.hidden) repayResume.focus()
      focusConsent = false
      poller.kick()
    }
  }

  approveStart.addEventListener('click', () => {
    const approved = workflow?.status === 'approved'
    void act(approved ? 'Starting…' : 'Approving and starting…', async () => {
      if (!approved) await ctx.api.approve(workflowId)
      return ctx.api.start(workflowId, newIdempotencyKey())
    })
  })
  /** A resume refused until the person agrees to pay again: show what it costs and the consent
   * button instead of an error (when the refusal names steps the page can explain). */
  const askConsent = (err: unknown): boolean => {
    const asked = repayStepsAsked(err)
    if (asked === null) return false
    consentAsked = asked
    if (toRepay().length === 0) return false
    focusConsent = true
    return true
  }
  resume.addEventListener('click', () => void act('Resuming…', () => ctx.api.start(workflowId, newIdempotencyKey()), askConsent))
  repayResume.addEventListener('click', () => {
    const repay = toRepay()
    if (!repay.length) return
    void act('Resuming…', async () => {
      const resumed = await ctx.api.start(workflowId, newIdempotencyKey(), repay)
      consentAsked = []
      return resumed
    }, askConsent)
  })
  cancel.addEventListener('click', () => void act('Cancelling…', () => ctx.api.cancel(workflowId)))

  function stepOf(n: number): StepView | undefined {
    return workflow?.steps.find((s) => s.step_number === n)
  }

  async function startPayment(n: number, notice = ''): Promise<void> {
    const step = stepOf(n)
    const entry = local(n)
    if (!step || entry.phase !== null || entry.preparing) return
    entry.error = ''
    entry.notice = notice
    entry.preparing = 'Preparing the payment…'
    render()
    const context = paymentContext()
    context.onRequote = () => {
      entry.preparing = 'The offer expired: getting a fresh one from the agent…'
      render()
    }
    try {
      const offer = await prepareOffer(context, step)
      entry.paidNote = ''
      entry.offer = offer
      if (offer.paidInRound !== null) {
        entry.notice = `This payment is already confirmed on chain (round ${offer.paidInRound}); it only needs to reach the agent.`
      } else if (offer.requoted) {
        entry.notice = notice || 'The earlier offer had expired; this is a fresh one from the agent.'
      }
    } catch (err) {
      entry.offer = null
      if (err instanceof AlreadyPaid) {
        // The earlier group was confirmed on chain after all: show the step as paid, ask nothing.
        entry.paidNote = err.message
        if (workflow) accept({ ...workflow, steps: workflow.steps.map((s) => (s.step_number === n ? err.step : s)) })
      } else {
        entry.error = errorText(err)
      }
    } finally {
      entry.preparing = ''
      render()
      if (entry.offer) cards.get(n)?.focusPreview()
      poller.kick()
    }
  }

  async function confirmPayment(n: number): Promise<void> {
    const entry = local(n)
    const offer = entry.offer
    if (!offer || entry.phase !== null) return
    entry.error = ''
    const context = paymentContext()
    context.onPhase = (phase) => {
      entry.phase = phase
      render()
    }
    try {
      const step = await payOffer(context, offer, (txns) => ctx.wallets.signTransactions(txns))
      entry.offer = null
      entry.notice = ''
      entry.phase = null
      if (workflow) accept({ ...workflow, steps: workflow.steps.map((s) => (s.step_number === n ? step : s)) })
    } catch (err) {
      entry.phase = null
      if (err instanceof OfferExpired) {
        entry.offer = null
        render()
        await startPayment(n, err.message)
        return
      }
      entry.error = errorText(err)
    } finally {
      render()
      poller.kick()
    }
  }

  function dropOffer(n: number): void {
    const entry = local(n)
    if (entry.phase !== null) return
    entry.offer = null
    entry.notice = ''
    render()
    cards.get(n)?.element.querySelector<HTMLElement>(`[data-testid="step-pay-${n}"]`)?.focus()
  }

  void (async () => {
    try {
      await refresh()
      title.focus()
    } catch (err) {
      show(loading, false)
      replaceChildren(pageError, errorLines(err))
      if (isFinal(err)) return
    }
    const loaded = workflow as WorkflowView | null
    if (!disposed && !(loaded && TERMINAL_WORKFLOW_STATUSES.has(loaded.status))) poller.start()
  })()

  return () => {
    disposed = true
    poller.dispose()
    panel.dispose()
  }
}
