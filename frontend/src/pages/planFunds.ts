// The plan's money before anything is paid: the wallet's balance, Algorand's minimum balance, what
// the plan costs with network fees, and whether the wallet can pay it (GET /api/workflows/{id}/funds).
// The workflow page (workflow.ts) calls renderPlanFunds on every render while the workflow is
// planned, always with the same container (<div data-testid="plan-funds"> between the steps and
// Approve): the box asks the API once per workflow, wallet and price (and on "Check again").
//
// Approve: the box says whether the wallet can pay; the page disables Approve only when the API
// answered `can_pay: false` (a short or unfunded wallet). While the answer is awaited, or when the
// balance could not be read, Approve stays possible (approving spends nothing; the wallet is asked
// per step). To follow it, the page reads `fundsAllowApprove(container)` in its render, and
// re-renders on the `planfunds` event the box dispatches (bubbling) whenever that answer changes.
//
// Test ids: plan-funds (the container; data-can-pay = true | false | unknown | loading), funds-box,
// funds-balance,
// funds-min-balance, funds-spendable, funds-agents, funds-fees, funds-total, funds-still-to-pay,
// funds-budget, funds-verdict, funds-message, funds-check-again, funds-error.

import { errorText } from '../api'
import { formatAlgo } from '../algo'
import { h, replaceChildren, setText, show } from '../dom'
import type { FundsView, WorkflowView } from '../types'
import type { PageContext } from './context'

export type FundsState = 'loading' | 'true' | 'false' | 'unknown'

/** The event the box dispatches (bubbling) when whether Approve should be possible changes. */
export const PLAN_FUNDS_EVENT = 'planfunds'

export interface PlanFundsDetail {
  canPay: boolean | null
}

/** What the verdict line says, and its tone. */
export function fundsVerdict(funds: FundsView): { text: string; tone: 'ok' | 'bad' | 'unknown' } {
  if (funds.can_pay === true) return { text: 'Your wallet can pay for this plan.', tone: 'ok' }
  if (funds.can_pay === false) {
    const short = funds.shortfall_microalgo
    return {
      text: short && short > 0 ? `Your wallet is short by ${formatAlgo(short)}.` : 'Your wallet cannot pay for this plan yet.',
      tone: 'bad',
    }
  }
  return { text: "Your wallet's balance could not be read right now.", tone: 'unknown' }
}

/** The rows of the box: label, test id, amount (rows without an amount are left out). */
export function fundsRows(funds: FundsView, budget: number | null): { label: string; testid: string; value: string }[] {
  const rows: { label: string; testid: string; value: number | null }[] = [
    { label: 'Your balance', testid: 'funds-balance', value: funds.balance_microalgo },
    { label: 'Must stay in the wallet (Algorand minimum balance)', testid: 'funds-min-balance', value: funds.min_balance_microalgo },
    { label: 'Can be spent', testid: 'funds-spendable', value: funds.spendable_microalgo },
    { label: "The agents' prices", testid: 'funds-agents', value: funds.agents_microalgo },
    { label: 'Network fees', testid: 'funds-fees', value: funds.fees_microalgo },
    { label: 'Total with network fees', testid: 'funds-total', value: funds.total_microalgo },
  ]
  if (funds.still_to_pay_microalgo !== funds.total_microalgo) {
    rows.push({ label: 'Still to pay', testid: 'funds-still-to-pay', value: funds.still_to_pay_microalgo })
  }
  if (budget !== null) rows.push({ label: 'Your budget (agents, without fees)', testid: 'funds-budget', value: budget })
  return rows
    .filter((r): r is { label: string; testid: string; value: number } => r.value !== null && r.value !== undefined)
    .map((r) => ({ label: r.label, testid: r.testid, value: formatAlgo(r.value) }))
}

/** Whether the page should let the person approve: false only when the wallet cannot pay. */
export function fundsAllowApprove(container: HTMLElement): boolean {
  return container.dataset.canPay !== 'false'
}

interface BoxState {
  key: string
  asked: number
  funds: FundsView | null
  error: string
  loading: boolean
  budget: number | null
  root: HTMLElement
  rows: HTMLElement
  verdict: HTMLElement
  message: HTMLElement
  error_: HTMLElement
  checkAgain: HTMLButtonElement
}

const boxes = new WeakMap<HTMLElement, BoxState>()

/** What changes the answer: the workflow, its wallet, its price and how many steps are paid. */
function keyOf(view: WorkflowView): string {
  const paid = view.steps.filter((s) => s.receipt).length
  return [view.workflow_id, view.wallet_address, view.total_cost_microalgo, paid].join('|')
}

function setCanPay(container: HTMLElement, state: FundsState): void {
  if (container.dataset.canPay === state) return
  const before = fundsAllowApprove(container)
  container.dataset.canPay = state
  if (before !== fundsAllowApprove(container) || state === 'true' || state === 'false') {
    const detail: PlanFundsDetail = { canPay: state === 'true' ? true : state === 'false' ? false : null }
    container.dispatchEvent(new CustomEvent(PLAN_FUNDS_EVENT, { bubbles: true, detail }))
  }
}

function paint(container: HTMLElement, box: BoxState): void {
  const funds = box.funds
  show(box.root, true)
  if (funds) {
    replaceChildren(
      box.rows,
      fundsRows(funds, box.budget).flatMap((row) => [h('dt', {}, row.label), h('dd', { testid: row.testid }, row.value)]),
    )
    const verdict = fundsVerdict(funds)
    setText(box.verdict, verdict.text)
    box.verdict.className = verdict.tone === 'ok' ? 'notice notice--ok' : verdict.tone === 'bad' ? 'warning' : 'notice'
    box.verdict.dataset.tone = verdict.tone
    setText(box.message, funds.message)
  } else {
    replaceChildren(box.rows)
    setText(box.verdict, box.loading ? 'Checking your wallet…' : '')
    box.verdict.className = 'muted'
    setText(box.message, '')
  }
  show(box.verdict, !!box.verdict.textContent)
  show(box.message, !!box.message.textContent)
  setText(box.error_, box.error)
  show(box.error_, !!box.error)
  show(box.checkAgain, !box.loading && (box.error !== '' || (funds !== null && funds.can_pay !== true)))
  box.checkAgain.disabled = box.loading
  const state: FundsState = box.loading && !funds ? 'loading' : funds?.can_pay === true ? 'true' : funds?.can_pay === false ? 'false' : 'unknown'
  setCanPay(container, state)
}

async function check(container: HTMLElement, box: BoxState, workflowId: string, ctx: PageContext): Promise<void> {
  const asked = ++box.asked
  box.loading = true
  paint(container, box)
  try {
    const funds = await ctx.api.getFunds(workflowId)
    if (asked !== box.asked) return
    box.funds = funds
    box.error = ''
  } catch (err) {
    if (asked !== box.asked) return
    box.error = `The wallet's balance cannot be checked right now: ${errorText(err)}`
  } finally {
    if (asked === box.asked) {
      box.loading = false
      paint(container, box)
    }
  }
}

/** Fills `container` with the funds box of `view` (only while something is left to pay). */
export function renderPlanFunds(container: HTMLElement, view: WorkflowView, ctx: PageContext): void {
  let box = boxes.get(container)
  if (!box) {
    const rows = h('dl', { class: 'fields' })
    const verdict = h('p', { testid: 'funds-verdict', role: 'status' })
    const message = h('p', { testid: 'funds-message' })
    const error_ = h('p', { class: 'error', testid: 'funds-error', role: 'alert' })
    const checkAgain = h('button', { type: 'button', class: 'button button--secondary', testid: 'funds-check-again' }, 'Check again') as HTMLButtonElement
    const root = h(
      'section',
      { class: 'card funds', testid: 'funds-box', 'aria-labelledby': 'funds-heading' },
      h('h2', { id: 'funds-heading' }, 'Your wallet and this plan'),
      verdict,
      rows,
      message,
      error_,
      h('div', { class: 'actions' }, checkAgain),
    )
    box = { key: '', asked: 0, funds: null, error: '', loading: false, budget: null, root, rows, verdict, message, error_, checkAgain }
    boxes.set(container, box)
    const state = box
    checkAgain.addEventListener('click', () => {
      const id = container.dataset.workflowId
      if (id) void check(container, state, id, ctx)
    })
    replaceChildren(container, root)
  }
  box.budget = view.budget_microalgo ?? null
  container.dataset.workflowId = view.workflow_id
  if (view.status === 'completed') {
    // Nothing left to pay: no box, and nothing to hold Approve back.
    box.key = ''
    box.asked++
    box.funds = null
    show(box.root, false)
    setCanPay(container, 'unknown')
    return
  }
  const key = keyOf(view)
  if (key !== box.key) {
    box.key = key
    void check(container, box, view.workflow_id, ctx)
  } else {
    paint(container, box)
  }
}
