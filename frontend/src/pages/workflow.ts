// /workflow/<id>: the plan, approval, each step's live status and payment, outputs.
// Everything shown comes from the API (GET /api/workflows/{id}), so a reload mid-workflow shows the
// same page; only the "paying" state (wallet signing, sending, confirming) is the page's own.
//
// Test ids (n = step number, i = transaction index from 0): see frontend/README.md.

import { ApiError, NotSignedIn, errorLines, errorText, newIdempotencyKey } from '../api'
import { formatAlgo, shorten } from '../algo'
import { h, replaceChildren, setText, show } from '../dom'
import { renderGroupPreview } from '../groupPreview'
import { copyButton, outputWithCopy, paragraphsOf, renderOutput } from '../output'
import { AlreadyPaid, OfferExpired, payOffer, prepareOffer, type PaymentContext, type PaymentOffer } from '../payment'
import { Poller, type TickOutcome } from '../poller'
import {
  recordedPaymentStepsOf,
  recordedPaymentText,
  repayButtonLabel,
  repayExplanation,
  repayStepsAsked,
  repayStepsOf,
} from '../repay'
import {
  WAITING_STEP_STATUSES,
  cancelConfirmationText,
  formatElapsed,
  nextAction,
  stepStatusView,
  workflowStatusView,
  type NextAction,
  type PayPhase,
} from '../status'
import { TERMINAL_WORKFLOW_STATUSES, type ErrorInfo, type PaymentReceipt, type StepView, type WorkflowView } from '../types'
import { algodOf, walletPanel } from '../wallet'
import type { Page, PageContext } from './context'
import { PLAN_FUNDS_EVENT, fundsAllowApprove, renderPlanFunds } from './planFunds'

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

/** Fills `section` with a heading, the output and its copy button, or hides it when there is no
 * output yet. */
function outputSection(section: HTMLElement, value: unknown, heading: () => HTMLElement, testid: string, what: string): void {
  const has = value !== null && value !== undefined
  const key = has ? JSON.stringify(value) : ''
  if (outputShown.get(section) !== key) {
    outputShown.set(section, key)
    replaceChildren(section, has ? [heading(), ...outputWithCopy(value, testid, what)] : [])
  }
  show(section, has)
}

/** An explorer's page for `txid`, from the API's template (http(s) only); null without one. */
export function explorerLink(template: string | null | undefined, txid: string): string | null {
  if (!template || !/^https?:\/\//i.test(template) || !template.includes('{txid}')) return null
  return template.split('{txid}').join(encodeURIComponent(txid))
}

/** A receipt: who was paid what, the fee, the round; each txid shortened (the full one a click away),
 * with a copy button and, on TestNet/MainNet, an explorer link. Test ids under `testid`. */
export function renderReceipt(receipt: PaymentReceipt, agentName: string, explorer: string | null | undefined, testid: string, prefix = ''): HTMLElement[] {
  const fee = receipt.fee_microalgo
  const summary = h(
    'p',
    { class: 'receipt-summary', testid: `${testid}-summary` },
    prefix,
    'Paid ',
    h('strong', { testid: `${testid}-amount` }, formatAlgo(receipt.amount_microalgo)),
    ' to ',
    h('strong', { testid: `${testid}-agent` }, agentName),
    ' (',
    h('span', { class: 'mono', title: receipt.receiver }, shorten(receipt.receiver)),
    ')',
    fee !== undefined && fee !== null ? [', network fee ', h('span', { testid: `${testid}-fee` }, formatAlgo(fee))] : null,
    '; confirmed in round ',
    h('span', { testid: `${testid}-round` }, String(receipt.confirmed_round)),
    '.',
  )
  const txids = h(
    'ul',
    { class: 'txids', 'aria-label': 'Transaction ids' },
    receipt.txn_ids.map((txid, i) => {
      const id = `${testid}-txid-${i}`
      const link = explorerLink(explorer, txid)
      return h(
        'li',
        { class: 'txid' },
        h(
          'details',
          { class: 'txid-details' },
          h('summary', {}, 'txid ', h('code', { testid: id, 'data-full': txid, title: txid }, shorten(txid))),
          h('code', { class: 'txid-full', testid: `${id}-full` }, txid),
        ),
        copyButton(() => txid, `transaction id ${shorten(txid)}`, `${id}-copy`),
        link ? h('a', { href: link, target: '_blank', rel: 'noopener noreferrer', testid: `${id}-link`, class: 'explorer-link' }, 'View in explorer', h('span', { class: 'visually-hidden' }, ` (transaction ${shorten(txid)}, opens in a new tab)`)) : null,
      )
    }),
  )
  return [summary, txids]
}

/** Every payment recorded on the workflow (each step's current and earlier receipts). */
function receiptsOf(wf: WorkflowView): PaymentReceipt[] {
  return wf.steps.flatMap((s) => [...(s.earlier_receipts ?? []), ...(s.receipt ? [s.receipt] : [])])
}

/** What the person has paid (the API's total of amounts and fees), and whether anything was. */
export function totalPaid(wf: WorkflowView): { microalgo: number; any: boolean } {
  const microalgo = wf.total_paid_microalgo ?? 0
  return { microalgo, any: microalgo > 0 || receiptsOf(wf).length > 0 }
}

/** What a step's agent will get (or got), as plain words: the API's preview (never template
 * syntax); the resolved input once the step has started. */
function inputShown(step: StepView): { resolved: boolean; value: unknown } {
  const resolved = step.resolved_input
  if (resolved !== null && resolved !== undefined) return { resolved: true, value: resolved }
  return { resolved: false, value: step.input_preview ?? '' }
}

class StepCard {
  readonly element: HTMLElement
  /** The pay button, what will be signed and how paying goes: in the card, or in the top box while
   * this step is the one to pay. */
  readonly payArea: HTMLElement
  private readonly payHome: HTMLElement
  private readonly payElsewhere: HTMLElement
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
  private readonly outputRef: HTMLElement
  private readonly stepError: HTMLElement
  private inputKey = ''
  private receiptKey = ''
  private earlierShown = ''
  private previewShown: PaymentOffer | null = null

  constructor(
    readonly n: number,
    step: StepView,
    handlers: { pay(n: number): void; confirm(n: number): void; back(n: number): void; toTop(): void },
  ) {
    this.status = h('span', { testid: `step-status-${n}`, 'aria-live': 'polite' })
    this.inputLabel = h('h4', {}, `What ${step.agent_name} will get`)
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
    this.payArea = h('div', { class: 'pay-area', testid: `step-pay-area-${n}` }, this.payButton, this.preview, this.payDetail, this.payError)
    this.payHome = h('div', {}, this.payArea)
    const toTop = h('button', { type: 'button', class: 'linklike', testid: `step-pay-at-top-link-${n}` }, 'Go to the payment')
    toTop.addEventListener('click', () => handlers.toTop())
    this.payElsewhere = h('p', { class: 'muted', testid: `step-pay-at-top-${n}` }, 'This step’s payment is in the box at the top of the page. ', toTop)
    this.receipt = h('div', { class: 'receipt', testid: `step-receipt-${n}` })
    this.earlierReceipts = h('ul', { class: 'earlier-receipts', testid: `step-earlier-receipts-${n}`, 'aria-label': `Earlier payments for step ${n}` })
    this.output = h('div', { class: 'step-output' })
    const seeFinal = h('button', { type: 'button', class: 'linklike', testid: `step-output-ref-link-${n}` }, 'See the final output')
    seeFinal.addEventListener('click', () => handlers.toTop())
    this.outputRef = h('p', { class: 'muted', testid: `step-output-ref-${n}` }, 'This step’s output is the final output, shown at the top of the page. ', seeFinal)
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
      h('p', { class: 'price' }, 'Price: ', h('strong', { testid: `step-price-${n}` }, formatAlgo(step.price_microalgo)), ' plus network fees'),
      this.inputLabel,
      this.input,
      this.payHome,
      this.payElsewhere,
      this.receipt,
      this.earlierReceipts,
      this.stepError,
      this.output,
      this.outputRef,
    )
  }

  /** Puts the pay area back in the card (`home`) or leaves it where the top box moved it. */
  payAtTop(atTop: boolean): void {
    if (!atTop && this.payArea.parentElement !== this.payHome) this.payHome.appendChild(this.payArea)
    show(this.payElsewhere, atTop)
  }

  update(step: StepView, wf: WorkflowView, local: LocalStep, walletNote: string, outputIsFinal: boolean): void {
    const canPay = wf.status === 'running'
    const view = stepStatusView(step.status, local.phase)
    setText(this.status, view.label)
    this.status.className = view.className
    this.status.dataset.status = view.key
    this.element.dataset.status = view.key

    const input = inputShown(step)
    const inputKey = JSON.stringify([input.resolved, input.value, step.agent_name])
    if (inputKey !== this.inputKey) {
      this.inputKey = inputKey
      setText(this.inputLabel, input.resolved ? `What ${step.agent_name} got` : `What ${step.agent_name} will get`)
      replaceChildren(
        this.input,
        input.resolved
          ? renderOutput(input.value, `step-input-value-${this.n}`)
          : h(
              'div',
              { class: 'output output--text', testid: `step-input-value-${this.n}` },
              paragraphsOf(String(input.value)).map((p) => h('p', {}, p)),
              String(input.value).trim() ? null : h('p', { class: 'muted' }, '(nothing: the agent gets an empty input)'),
            ),
      )
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
    const receiptKey = JSON.stringify([receipt ?? null, step.agent_name, wf.explorer_txn_url ?? null])
    if (receiptKey !== this.receiptKey) {
      this.receiptKey = receiptKey
      replaceChildren(this.receipt, receipt ? renderReceipt(receipt, step.agent_name, wf.explorer_txn_url, `step-receipt-${this.n}`) : [])
    }
    show(this.receipt, !!receipt)

    // Payments for earlier jobs of this step that the agent could not deliver: kept, shown as such.
    const earlier = step.earlier_receipts ?? []
    const earlierKey = JSON.stringify([earlier, step.agent_name, wf.explorer_txn_url ?? null])
    if (earlierKey !== this.earlierShown) {
      this.earlierShown = earlierKey
      replaceChildren(
        this.earlierReceipts,
        earlier.map((r, i) =>
          h(
            'li',
            { class: 'receipt', testid: `step-earlier-receipt-${this.n}-${i}` },
            renderReceipt(r, step.agent_name, wf.explorer_txn_url, `step-earlier-receipt-${this.n}-${i}`, 'Earlier payment, kept: '),
          ),
        ),
      )
    }
    show(this.earlierReceipts, earlier.length > 0)

    setText(this.stepError, recordedError(step.error))
    show(this.stepError, !!step.error)

    // The last step's output is the final output, shown once at the top: here only a pointer to it.
    outputSection(this.output, outputIsFinal ? null : step.output, () => h('h4', {}, 'Output'), `step-output-${this.n}`, `step ${this.n}'s output`)
    show(this.outputRef, outputIsFinal)
  }

  focusPreview(): void {
    this.preview.querySelector<HTMLElement>('h4')?.focus()
  }
}

/** Scrolls `element` into view (smoothly unless the person prefers less motion). */
function scrollTo(element: HTMLElement): void {
  if (typeof element.scrollIntoView !== 'function') return
  const reduce = typeof window.matchMedia === 'function' && window.matchMedia('(prefers-reduced-motion: reduce)').matches
  element.scrollIntoView({ behavior: reduce ? 'auto' : 'smooth', block: 'start' })
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
  const totalPaidValue = h('strong', { testid: 'workflow-total-paid' })
  const totalPaidLabel = h('span', {}, 'Paid so far: ')
  const totalPaidNote = h('span', { testid: 'workflow-total-paid-note' }, ', network fees included')
  const totalPaidLine = h('p', { testid: 'workflow-paid' }, totalPaidLabel, totalPaidValue, totalPaidNote)
  const workflowError = h('div', { class: 'error', testid: 'workflow-error' })
  const approveStart = h('button', { type: 'button', class: 'button button--primary', testid: 'approve-start' }, 'Approve & start')
  const cancel = h('button', { type: 'button', class: 'button button--secondary', testid: 'cancel' }, 'Cancel workflow')
  const resume = h('button', { type: 'button', class: 'button button--primary', testid: 'resume' }, 'Resume')
  // Cancel asks first, on the page (not window.confirm): what stops, what happens to paid steps.
  const cancelText = h('p', { id: 'cancel-confirm-text', testid: 'cancel-confirm-text', tabindex: -1 })
  const cancelYes = h('button', { type: 'button', class: 'button button--danger', testid: 'cancel-confirm', 'aria-describedby': 'cancel-confirm-text' }, 'Yes, cancel the workflow')
  const cancelNo = h('button', { type: 'button', class: 'button button--secondary', testid: 'cancel-keep' }, 'No, keep it')
  const cancelConfirm = h(
    'div',
    { class: 'confirm', role: 'group', 'aria-labelledby': 'cancel-confirm-heading', testid: 'cancel-confirm-panel' },
    h('h3', { id: 'cancel-confirm-heading' }, 'Cancel the workflow?'),
    cancelText,
    h('div', { class: 'actions' }, cancelYes, cancelNo),
  )
  let confirmingCancel = false
  // Paid jobs the agent could not deliver: what resuming costs again, and the consent to it.
  const repayNotice = h('div', { class: 'notice', id: 'repay-notice', testid: 'repay-notice' })
  const repayResume = h('button', { type: 'button', class: 'button button--primary', testid: 'resume-repay', 'aria-describedby': 'repay-notice' }, 'Pay again and resume')
  // Payments recorded after their step stopped waiting: resuming does not ask for them again.
  const recordedNotice = h('div', { class: 'notice notice--ok', id: 'payment-recorded', testid: 'payment-recorded' })
  const actionStatus = h('p', { class: 'muted', testid: 'action-status', 'aria-live': 'polite' })
  const walletMismatch = h('p', { class: 'warning-line', testid: 'wallet-mismatch', role: 'status' })
  const stepsList = h('ol', { class: 'steps', testid: 'steps' })
  const finalOutput = h('section', { class: 'final', testid: 'final-output-section', 'aria-labelledby': 'final-heading' })
  const planFunds = h('div', { class: 'plan-funds', testid: 'plan-funds' })
  const panel = walletPanel(ctx.wallets, () => render())

  // What to do next: the one box the page leads with.
  const nextTitleText = h('span', { testid: 'next-action-title-text' })
  const nextTitle = h('h2', { id: 'next-action-title', testid: 'next-action-title', tabindex: -1 }, nextTitleText)
  const nextSpinner = h('span', { class: 'spinner', testid: 'next-action-spinner', 'aria-hidden': 'true' })
  const nextElapsed = h('span', { class: 'elapsed', testid: 'next-action-elapsed' })
  const nextSince = h('span', { class: 'since', testid: 'next-action-since' }, ' since ', nextElapsed)
  // Screen readers hear the action when it changes, not the timer every second.
  const nextAnnounce = h('p', { class: 'visually-hidden', 'aria-live': 'polite', testid: 'next-action-announce' })
  const nextDetail = h('p', { testid: 'next-action-detail' })
  const nextSlot = h('div', { class: 'next-action-slot', testid: 'next-action-slot' })
  const goToApprove = h('button', { type: 'button', class: 'button button--secondary', testid: 'next-action-goto-approve' }, 'Go to Approve & start')
  const nextBox = h(
    'section',
    { class: 'card next-action', testid: 'next-action', 'aria-labelledby': 'next-action-title' },
    h('div', { class: 'next-action-head' }, nextSpinner, h('div', {}, nextTitle)),
    nextAnnounce,
    nextDetail,
    workflowError,
    repayNotice,
    recordedNotice,
    nextSlot,
    h('div', { class: 'actions' }, resume, repayResume, goToApprove),
  )
  let shownAction: NextAction | null = null
  /** When the person began waiting for each step's agent (ms), by step. */
  const waitingSince = new Map<number, number>()
  const lastStatus = new Map<number, string>()

  const summary = h(
    'section',
    { class: 'card', 'aria-labelledby': 'plan-heading', testid: 'workflow-summary' },
    h('div', { class: 'step-header' }, h('h2', { id: 'plan-heading' }, 'Plan'), status),
    h('h3', {}, 'Your request'),
    request,
    h('h3', {}, "The planner's reasoning"),
    reasoning,
    h('p', {}, 'Total cost: ', total, ' plus network fees'),
    totalPaidLine,
    h('p', { class: 'wallet-line' }, 'Pays from: ', walletLine),
  )
  const walletHome = h('div', { class: 'wallet-home' }, panel.element)
  const controls = h(
    'section',
    { class: 'controls', 'aria-label': 'Approve or cancel', testid: 'workflow-controls' },
    planFunds,
    h('div', { class: 'actions' }, approveStart, cancel),
    cancelConfirm,
    actionStatus,
  )
  const body = h('div', { class: 'workflow-body' }, nextBox, summary, walletHome, h('h2', {}, 'Steps'), stepsList, controls)
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
  show(cancelConfirm, false)
  // The funds box's verdict changed (it may hold Approve back): render again, after its own paint.
  planFunds.addEventListener(PLAN_FUNDS_EVENT, () => queueMicrotask(() => render()))

  const toTop = (): void => {
    scrollTo(nextBox)
    nextTitle.focus()
  }
  goToApprove.addEventListener('click', () => {
    scrollTo(approveStart)
    approveStart.focus()
  })

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

  /** Notes when each step's wait for its agent began: when this page saw it paid, else (a page
   * opened mid-run) when the step started as the API says. */
  function trackWaits(wf: WorkflowView): void {
    for (const step of wf.steps) {
      const n = step.step_number
      const before = lastStatus.get(n)
      lastStatus.set(n, step.status)
      if (!WAITING_STEP_STATUSES.has(step.status)) {
        waitingSince.delete(n)
        continue
      }
      if (waitingSince.has(n) && before !== undefined && WAITING_STEP_STATUSES.has(before)) continue
      const started = step.started_at ? Date.parse(step.started_at) : NaN
      waitingSince.set(n, before === undefined && Number.isFinite(started) ? Math.min(started, Date.now()) : Date.now())
    }
  }

  function updateElapsed(): void {
    const action = shownAction
    const since = action && action.kind === 'waiting' && action.step !== null ? waitingSince.get(action.step) : undefined
    // In the heading only while waiting: "Waiting for <agent> since 12 s".
    if (since === undefined) {
      nextSince.remove()
      return
    }
    setText(nextElapsed, formatElapsed(Date.now() - since))
    if (nextSince.parentElement !== nextTitle) nextTitle.appendChild(nextSince)
  }
  const ticker = setInterval(updateElapsed, 1000)

  function renderNextAction(wf: WorkflowView): void {
    const action = nextAction(wf, (n) => locals.get(n)?.phase ?? null)
    const changed = shownAction !== null && shownAction.key !== action.key
    shownAction = action
    nextBox.dataset.kind = action.kind
    if (action.step !== null) nextBox.dataset.step = String(action.step)
    else delete nextBox.dataset.step
    setText(nextTitleText, action.title)
    setText(nextAnnounce, action.title)
    setText(nextDetail, action.detail)
    show(nextDetail, !!action.detail)
    show(nextSpinner, action.busy)
    show(goToApprove, action.kind === 'review' || action.kind === 'start')
    setText(goToApprove, action.kind === 'start' ? 'Go to Start' : 'Go to Approve & start')
    updateElapsed()

    // What the action needs at hand: the wallet and the step's payment, or the final output.
    const paying = (action.kind === 'pay' || action.kind === 'paying') && action.step !== null
    const wanted: HTMLElement[] = []
    if (paying) {
      wanted.push(panel.element, walletMismatch)
      const card = cards.get(action.step as number)
      if (card) wanted.push(card.payArea)
    }
    if (wf.final_output !== null && wf.final_output !== undefined) wanted.push(finalOutput)
    for (const card of cards.values()) card.payAtTop(paying && card.n === action.step)
    for (const el of [panel.element, walletMismatch]) if (!paying && el.parentElement !== walletHome) walletHome.appendChild(el)
    for (const child of Array.from(nextSlot.children)) if (!wanted.includes(child as HTMLElement)) child.remove()
    wanted.forEach((el, i) => {
      if (nextSlot.children[i] !== el) nextSlot.insertBefore(el, nextSlot.children[i] ?? null)
    })
    // Nothing left to pay once completed: no wallet panel then.
    show(walletHome, !paying && wf.status !== 'completed')
    // A new action: bring it into view (the first one is at the top already).
    if (changed) scrollTo(nextBox)
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

    const paid = totalPaid(wf)
    setText(totalPaidLabel, wf.status === 'completed' ? 'Paid in total: ' : 'Paid so far: ')
    setText(totalPaidValue, formatAlgo(paid.microalgo))
    show(totalPaidLine, paid.any)

    show(approveStart, wf.status === 'planned' || wf.status === 'approved')
    setText(approveStart, wf.status === 'approved' ? 'Start' : 'Approve & start')
    const resumable = wf.status === 'failed' || wf.status === 'cancelled'
    const repay = toRepay()
    show(resume, resumable && repay.length === 0)
    const cancellable = wf.status === 'planned' || wf.status === 'approved' || wf.status === 'running'
    if (!cancellable) confirmingCancel = false
    show(cancel, cancellable && !confirmingCancel)
    show(cancelConfirm, cancellable && confirmingCancel)
    setText(cancelText, cancelConfirmationText(wf))
    show(controls, cancellable)
    for (const button of [approveStart, resume, repayResume, cancel, cancelYes, cancelNo]) button.toggleAttribute('disabled', actionBusy)

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
        const card = new StepCard(step.step_number, step, { pay: startPayment, confirm: confirmPayment, back: dropOffer, toTop })
        cards.set(step.step_number, card)
        stepsList.appendChild(card.element)
      }
    }
    // The final output is shown once, at the top; the last step (whose output it is) points there.
    const hasFinal = wf.final_output !== null && wf.final_output !== undefined
    const last = wf.steps.reduce<StepView | null>((a, s) => (a === null || s.step_number > a.step_number ? s : a), null)
    const finalIsLast = hasFinal && last !== null && JSON.stringify(last.output) === JSON.stringify(wf.final_output)
    for (const step of wf.steps) {
      cards.get(step.step_number)?.update(step, wf, local(step.step_number), note, finalIsLast && step === last)
    }

    outputSection(finalOutput, wf.final_output, () => h('h3', { id: 'final-heading' }, 'Final output'), 'final-output', 'the final output')

    if (wf.status === 'planned') renderPlanFunds(planFunds, wf, ctx)
    show(planFunds, wf.status === 'planned')
    // A wallet the funds box found short: no Approve until it can pay (the box says what to do).
    if (wf.status === 'planned' && !fundsAllowApprove(planFunds)) approveStart.disabled = true

    trackWaits(wf)
    renderNextAction(wf)
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
  cancel.addEventListener('click', () => {
    confirmingCancel = true
    render()
    cancelText.focus()
  })
  cancelNo.addEventListener('click', () => {
    confirmingCancel = false
    render()
    cancel.focus()
  })
  cancelYes.addEventListener('click', () => {
    confirmingCancel = false
    void act('Cancelling…', () => ctx.api.cancel(workflowId))
  })

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
    clearInterval(ticker)
    poller.dispose()
    panel.dispose()
  }
}
