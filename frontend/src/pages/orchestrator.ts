// /orchestrator: the request, an optional budget, the wallet, submit → /workflow/<id>.
//
// Test ids: request-form, request-input, budget-input, budget-error, create-submit, create-status
// (the planning wait, with the seconds elapsed), create-error (the planner's sentence; for a request
// no agent fits, create-closest-agents and create-agents-link) (+ the wallet panel's, see wallet.ts).

import { ApiError, errorLines, newIdempotencyKey } from '../api'
import { formatAlgo } from '../algo'
import { h, setText } from '../dom'
import { walletPanel } from '../wallet'
import type { Page } from './context'

const MICRO_PER_ALGO = 1_000_000n

export type BudgetParse = { ok: true; microalgo: number | undefined } | { ok: false; error: string }

/** The budget field: ALGO as the person writes it ("1.5", "0.25", empty for none) → µALGO. */
export function parseBudget(text: string): BudgetParse {
  const value = text.trim()
  if (!value) return { ok: true, microalgo: undefined }
  const match = /^(\d*)(?:\.(\d*))?$/.exec(value)
  if (!match || (!match[1] && !match[2])) {
    return { ok: false, error: 'Write the budget as a number of ALGO, like 1.5 (or leave it empty for no limit).' }
  }
  const fraction = match[2] ?? ''
  if (fraction.length > 6) {
    return { ok: false, error: 'ALGO has at most 6 decimals: 0.000001 ALGO is the smallest amount.' }
  }
  const micro = BigInt(match[1] || '0') * MICRO_PER_ALGO + BigInt(fraction.padEnd(6, '0') || '0')
  if (micro === 0n) return { ok: false, error: 'The budget must be more than 0 ALGO (leave it empty for no limit).' }
  if (micro > BigInt(Number.MAX_SAFE_INTEGER)) {
    return { ok: false, error: 'That budget is larger than all the ALGO there is: write a smaller one.' }
  }
  return { ok: true, microalgo: Number(micro) }
}

/** What the page says while the planner works, `seconds` after the request was sent. */
export function planningStatus(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  const base = `Planning your workflow… ${s} s`
  return s >= 10 ? `${base}. The planner may take up to half a minute.` : base
}

export interface ClosestAgent {
  id: string
  name: string
  description: string
}

/** The agents a no-fit answer names as closest to the request (`error.details.closest_agents`). */
export function closestAgentsOf(error: unknown): ClosestAgent[] {
  if (!(error instanceof ApiError)) return []
  const details = error.details
  if (typeof details !== 'object' || details === null) return []
  const list = (details as { closest_agents?: unknown }).closest_agents
  if (!Array.isArray(list)) return []
  return list
    .filter((a): a is Record<string, unknown> => typeof a === 'object' && a !== null && typeof (a as { name?: unknown }).name === 'string')
    .map((a) => ({
      id: String(a.id ?? ''),
      name: String(a.name),
      description: typeof a.description === 'string' ? a.description : '',
    }))
}

/** Whether the planner itself failed (did not answer in time, unavailable): its message is a sentence. */
export function isPlannerError(error: unknown): boolean {
  return error instanceof ApiError && (error.code === 'PlannerTimeout' || error.code === 'PlannerUnavailable')
}

/** Whether an error is about what the plan could be (no agent fits, over budget…): then the page
 * points to the agents and what they want. */
function isPlanProblem(error: unknown): boolean {
  return error instanceof ApiError && error.code === 'PlanInvalid'
}

export const orchestratorPage: Page = (root, ctx) => {
  const input = h('textarea', {
    id: 'request-input',
    testid: 'request-input',
    name: 'request',
    rows: 5,
    maxlength: 4000,
    required: true,
    'aria-describedby': 'request-help',
    placeholder: 'I have a headache and runny nose and want a movie recommendation',
  }) as HTMLTextAreaElement
  const budget = h('input', {
    id: 'budget-input',
    testid: 'budget-input',
    name: 'budget',
    type: 'text',
    inputmode: 'decimal',
    autocomplete: 'off',
    'aria-describedby': 'budget-help budget-error',
    placeholder: 'No limit',
  }) as HTMLInputElement
  const budgetError = h('p', { id: 'budget-error', testid: 'budget-error', class: 'error', 'aria-live': 'polite' })
  const submit = h('button', { type: 'submit', testid: 'create-submit', class: 'button button--primary' }, 'Plan my workflow')
  const status = h('p', { testid: 'create-status', class: 'muted', 'aria-live': 'polite' })
  const error = h('div', { testid: 'create-error', class: 'error', role: 'alert' })
  const hint = h('p', { testid: 'create-wallet-hint', class: 'muted' })
  let busy = false
  let timer: ReturnType<typeof setInterval> | null = null
  // One key per request (wallet, text, budget): a double click or a retry after a lost answer plans once.
  let pending: { text: string; key: string } | null = null

  const renderHint = (): void => {
    setText(
      hint,
      ctx.wallets.activeAddress
        ? "Before you approve, the plan shows this wallet's balance, the total with network fees and whether the wallet can pay it."
        : 'Connect a wallet first: the workflow pays its agents from it.',
    )
  }

  // After renderHint: the panel calls it at once when a wallet is already connected (a page
  // reached from another with the wallet still connected).
  const panel = walletPanel(ctx.wallets, () => renderHint())

  const checkBudget = (): BudgetParse => {
    const parsed = parseBudget(budget.value)
    setText(budgetError, parsed.ok ? '' : parsed.error)
    if (parsed.ok) budget.removeAttribute('aria-invalid')
    else budget.setAttribute('aria-invalid', 'true')
    return parsed
  }
  budget.addEventListener('blur', () => {
    const parsed = checkBudget()
    if (parsed.ok && parsed.microalgo !== undefined) budget.title = formatAlgo(parsed.microalgo)
  })
  budget.addEventListener('input', () => {
    if (budget.getAttribute('aria-invalid')) checkBudget()
  })

  const stopTimer = (): void => {
    if (timer !== null) clearInterval(timer)
    timer = null
  }

  const showFailure = (err: unknown): void => {
    // The planner's own sentences already say what to do; the generic "service had a problem" hint
    // of a 5xx would repeat it.
    const children: HTMLElement[] = isPlannerError(err) ? [h('p', {}, (err as ApiError).message)] : errorLines(err)
    const closest = closestAgentsOf(err)
    if (closest.length) {
      children.push(
        h('p', {}, 'The agents closest to your request:'),
        h(
          'ul',
          { testid: 'create-closest-agents', class: 'closest-agents' },
          closest.map((a) => h('li', {}, h('strong', {}, a.name), a.description ? `: ${a.description}` : '')),
        ),
      )
    }
    if (closest.length || isPlanProblem(err)) {
      children.push(
        h('p', {}, h('a', { href: '/agents', testid: 'create-agents-link' }, 'See every agent, its price and the input it wants'), '.'),
      )
    }
    error.replaceChildren(...children)
  }

  const form = h(
    'form',
    { testid: 'request-form', class: 'card', novalidate: true, 'aria-labelledby': 'request-heading' },
    h('h2', { id: 'request-heading' }, 'Your request'),
    h('div', { class: 'field' },
      h('label', { for: 'request-input' }, 'What do you need?'),
      h('p', { id: 'request-help', class: 'muted' },
        'Say it in plain words. The planner picks agents from the ',
        h('a', { href: '/agents', testid: 'request-agents-link' }, 'catalog'),
        ' and shows you the plan and its price before anything is paid.',
      ),
      input,
    ),
    h('div', { class: 'field field--short' },
      h('label', { for: 'budget-input' }, 'Budget in ALGO (optional)'),
      h('p', { id: 'budget-help', class: 'muted' }, 'The most the agents may cost together, network fees aside. The planner keeps the plan within it.'),
      budget,
      budgetError,
    ),
    hint,
    h('div', { class: 'actions' }, submit),
    status,
    error,
  )

  form.addEventListener('submit', async (event) => {
    event.preventDefault()
    if (busy) return
    const text = input.value.trim()
    const address = ctx.wallets.activeAddress
    error.replaceChildren()
    if (!text) {
      setText(error, 'Type a request first.')
      input.focus()
      return
    }
    const parsed = checkBudget()
    if (!parsed.ok) {
      budget.focus()
      return
    }
    if (!address) {
      setText(error, 'Connect a wallet first: the workflow pays its agents from it.')
      return
    }
    const identity = `${address}\n${parsed.microalgo ?? ''}\n${text}`
    if (!pending || pending.text !== identity) pending = { text: identity, key: newIdempotencyKey() }
    busy = true
    submit.setAttribute('disabled', '')
    const started = Date.now()
    setText(status, planningStatus(0))
    stopTimer()
    timer = setInterval(() => setText(status, planningStatus((Date.now() - started) / 1000)), 1000)
    try {
      const workflow = await ctx.api.createWorkflow(
        { userMessage: text, walletAddress: address, budgetMicroalgo: parsed.microalgo },
        pending.key,
      )
      stopTimer()
      setText(status, 'Planned. Opening the workflow…')
      ctx.navigate(`/workflow/${encodeURIComponent(workflow.workflow_id)}`)
    } catch (err) {
      stopTimer()
      const seconds = Math.floor((Date.now() - started) / 1000)
      setText(status, `Planning stopped after ${seconds} s.`)
      showFailure(err)
      busy = false
      submit.removeAttribute('disabled')
    }
  })

  root.replaceChildren(
    h('h1', { tabindex: -1, testid: 'page-title' }, 'Agent orchestrator'),
    h('p', { class: 'lead' },
      'Describe what you need; agents from the marketplace do it step by step, and you approve and pay each one from your wallet. ',
      h('a', { href: '/workflows', testid: 'request-history-link' }, 'Your earlier workflows'),
      '.',
    ),
    panel.element,
    form,
  )
  renderHint()
  return () => {
    stopTimer()
    panel.dispose()
  }
}
