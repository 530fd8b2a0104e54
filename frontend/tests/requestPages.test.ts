// @vitest-environment happy-dom
// The request page's budget and planning errors, the plan's funds box, the agents and history pages:
// their pure logic, and the pages against a loopback API (what they ask for, what they show).
import { afterEach, describe, expect, test } from 'vitest'

import { ApiClient, ApiError } from '../src/api'
import { parseConfig } from '../src/config'
import { agentInputLines, agentsPage } from '../src/pages/agents'
import type { PageContext } from '../src/pages/context'
import { HISTORY_PAGE_SIZE, formatWhen, historyPage, mergePage, shortRequest, summaryProgress } from '../src/pages/history'
import { closestAgentsOf, orchestratorPage, parseBudget, planningStatus } from '../src/pages/orchestrator'
import {
  PLAN_FUNDS_EVENT,
  fundsAllowApprove,
  fundsRows,
  fundsVerdict,
  renderPlanFunds,
} from '../src/pages/planFunds'
import type { AgentCard, FundsView, StepView, WorkflowSummary, WorkflowView } from '../src/types'
import { createWalletManager } from '../src/wallet'
import { PAYER } from './fixtures'
import { serve, type Handler, type Loopback } from './loopback'
import { $, visible, waitFor } from './pageHelpers'

const servers: Loopback[] = []
let dispose: (() => void) | null = null
afterEach(async () => {
  dispose?.()
  dispose = null
  await Promise.all(servers.splice(0).map((s) => s.close()))
  document.body.replaceChildren()
})

async function context(handler: Handler): Promise<{ ctx: PageContext; api: Loopback }> {
  const api = await serve(handler)
  servers.push(api)
  const config = parseConfig({ apiBaseUrl: api.url, network: 'localnet', algod: { baseServer: 'http://127.0.0.1:1' } })
  const ctx: PageContext = {
    config,
    api: new ApiClient(config.apiBaseUrl, async () => 'token'),
    wallets: createWalletManager(config),
    navigate: () => {},
  }
  return { ctx, api }
}


const mount = (): HTMLElement => document.body.appendChild(document.createElement('main'))

describe('the budget field', () => {
  test('ALGO as written becomes µALGO; empty means no budget', () => {
    expect(parseBudget('')).toEqual({ ok: true, microalgo: undefined })
    expect(parseBudget('  ')).toEqual({ ok: true, microalgo: undefined })
    expect(parseBudget('1.5')).toEqual({ ok: true, microalgo: 1_500_000 })
    expect(parseBudget(' 2 ')).toEqual({ ok: true, microalgo: 2_000_000 })
    expect(parseBudget('.25')).toEqual({ ok: true, microalgo: 250_000 })
    expect(parseBudget('3.')).toEqual({ ok: true, microalgo: 3_000_000 })
    expect(parseBudget('0.000001')).toEqual({ ok: true, microalgo: 1 })
    expect(parseBudget('0.1')).toEqual({ ok: true, microalgo: 100_000 }) // exact: no float rounding
  })

  test('anything else is refused with a sentence', () => {
    for (const text of ['abc', '1,5', '-1', '1e3', '.', '1.2.3', '0x10']) {
      const parsed = parseBudget(text)
      expect(parsed.ok, text).toBe(false)
      if (!parsed.ok) expect(parsed.error).toMatch(/number of ALGO/)
    }
    expect(parseBudget('0.0000001')).toEqual({ ok: false, error: expect.stringContaining('at most 6 decimals') })
    expect(parseBudget('0')).toEqual({ ok: false, error: expect.stringContaining('more than 0') })
    expect(parseBudget('0.000')).toEqual({ ok: false, error: expect.stringContaining('more than 0') })
    expect(parseBudget('99999999999')).toEqual({ ok: false, error: expect.stringContaining('smaller') })
  })
})

describe('the planning wait and its failure', () => {
  test('the wait counts seconds and says how long it may take', () => {
    expect(planningStatus(0)).toBe('Planning your workflow… 0 s')
    expect(planningStatus(4.9)).toBe('Planning your workflow… 4 s')
    expect(planningStatus(12)).toBe('Planning your workflow… 12 s. The planner may take up to half a minute.')
  })

  test('the closest agents come from a no-fit answer only', () => {
    const details = { reasons: ['no agent'], closest_agents: [{ id: 'a', name: 'Summarizer', description: 'Summarises text' }, { name: 'Bare' }, 'junk'] }
    expect(closestAgentsOf(new ApiError(422, 'PlanInvalid', 'No agent fits.', details))).toEqual([
      { id: 'a', name: 'Summarizer', description: 'Summarises text' },
      { id: '', name: 'Bare', description: '' },
    ])
    expect(closestAgentsOf(new ApiError(422, 'PlanInvalid', 'x', { reasons: [] }))).toEqual([])
    expect(closestAgentsOf(new Error('x'))).toEqual([])
  })

  test('a refused plan shows the sentence, the closest agents and a link to the agents page; the budget is sent', async () => {
    const { ctx, api } = await context(() => ({
      status: 422,
      json: {
        error: {
          code: 'PlanInvalid',
          message: 'No agent fits this request. The closest are Summarizer and Sentiment.',
          details: { closest_agents: [{ id: 'sum', name: 'Summarizer', description: 'Summarises text' }] },
        },
      },
    }))
    const root = mount()
    // A connected wallet, as use-wallet reports it.
    Object.defineProperty(ctx.wallets, 'activeAddress', { get: () => PAYER })
    dispose = orchestratorPage(root, ctx)
    ;($(root, 'request-input') as HTMLTextAreaElement).value = 'translate this poem'
    ;($(root, 'budget-input') as HTMLInputElement).value = '0.75'
    ;($(root, 'request-form') as HTMLFormElement).dispatchEvent(new Event('submit', { cancelable: true }))
    expect($(root, 'create-status')?.textContent).toBe('Planning your workflow… 0 s')
    await waitFor(() => $(root, 'create-closest-agents'))
    const error = $(root, 'create-error') as HTMLElement
    expect(error.textContent).toContain('No agent fits this request. The closest are Summarizer and Sentiment.')
    expect($(root, 'create-closest-agents')?.textContent).toBe('Summarizer: Summarises text')
    expect($(root, 'create-agents-link')?.getAttribute('href')).toBe('/agents')
    expect($(root, 'create-status')?.textContent).toMatch(/^Planning stopped after \d+ s\.$/)
    expect(JSON.parse(api.requests[0].body)).toEqual({ user_message: 'translate this poem', wallet_address: PAYER, budget_microalgo: 750_000 })
    expect(($(root, 'create-submit') as HTMLButtonElement).disabled).toBe(false)
  })

  test('a bad budget stops the request before it is sent', async () => {
    const { ctx, api } = await context(() => ({ json: {} }))
    const root = mount()
    Object.defineProperty(ctx.wallets, 'activeAddress', { get: () => PAYER })
    dispose = orchestratorPage(root, ctx)
    ;($(root, 'request-input') as HTMLTextAreaElement).value = 'summarise this'
    ;($(root, 'budget-input') as HTMLInputElement).value = '1,5'
    ;($(root, 'request-form') as HTMLFormElement).dispatchEvent(new Event('submit', { cancelable: true }))
    await new Promise((r) => setTimeout(r, 50))
    expect($(root, 'budget-error')?.textContent).toContain('number of ALGO')
    expect($(root, 'budget-input')?.getAttribute('aria-invalid')).toBe('true')
    expect(api.requests).toHaveLength(0)
  })
})

const FUNDS: FundsView = {
  wallet_address: PAYER,
  network: 'localnet',
  balance_microalgo: 1_200_000,
  min_balance_microalgo: 100_000,
  spendable_microalgo: 1_100_000,
  agents_microalgo: 800_000,
  fees_microalgo: 4_000,
  total_microalgo: 804_000,
  still_to_pay_microalgo: 804_000,
  can_pay: true,
  shortfall_microalgo: 0,
  message: 'Your wallet holds 1.2 ALGO; … you can pay it.',
}
const SHORT: FundsView = {
  ...FUNDS,
  balance_microalgo: 0,
  min_balance_microalgo: 100_000,
  spendable_microalgo: 0,
  can_pay: false,
  shortfall_microalgo: 804_000,
  message: 'Your wallet holds 0 ALGO; you need 0.804 ALGO more: fund the wallet and check again.',
}

function step(n: number, input: StepView['input_data'], extra: Partial<StepView> = {}): StepView {
  return { step_number: n, agent_id: `a${n}`, agent_name: `Agent ${n}`, description: '', input_data: input, status: 'pending', price_microalgo: 400_000, ...extra }
}

function plan(extra: Partial<WorkflowView> = {}): WorkflowView {
  return {
    workflow_id: 'wf-1',
    status: 'planned',
    user_message: 'x',
    wallet_address: PAYER,
    reasoning: '',
    current_step: 0,
    total_cost_microalgo: 800_000,
    budget_microalgo: 1_000_000,
    attempt: 1,
    steps: [step(1, 'a'), step(2, 'b')],
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    ...extra,
  }
}

describe('the funds box', () => {
  test('rows: balance, minimum balance, spendable, prices, fees, total, budget; unknown balances left out', () => {
    expect(fundsRows(FUNDS, 1_000_000).map((r) => [r.testid, r.value])).toEqual([
      ['funds-balance', '1.2 ALGO'],
      ['funds-min-balance', '0.1 ALGO'],
      ['funds-spendable', '1.1 ALGO'],
      ['funds-agents', '0.8 ALGO'],
      ['funds-fees', '0.004 ALGO'],
      ['funds-total', '0.804 ALGO'],
      ['funds-budget', '1 ALGO'],
    ])
    const unread = { ...FUNDS, balance_microalgo: null, min_balance_microalgo: null, spendable_microalgo: null, can_pay: null, shortfall_microalgo: null, still_to_pay_microalgo: 404_000 }
    expect(fundsRows(unread, null).map((r) => r.testid)).toEqual(['funds-agents', 'funds-fees', 'funds-total', 'funds-still-to-pay'])
    expect(fundsVerdict(FUNDS)).toEqual({ text: 'Your wallet can pay for this plan.', tone: 'ok' })
    expect(fundsVerdict(SHORT)).toEqual({ text: 'Your wallet is short by 0.804 ALGO.', tone: 'bad' })
    expect(fundsVerdict(unread).tone).toBe('unknown')
  })

  test('asks once per workflow and price, shows a short wallet, blocks Approve, and Check again asks anew', async () => {
    let answer: FundsView = SHORT
    const { ctx, api } = await context(() => ({ json: answer }))
    const container = mount()
    const events: unknown[] = []
    container.addEventListener(PLAN_FUNDS_EVENT, (e) => events.push((e as CustomEvent).detail))
    renderPlanFunds(container, plan(), ctx)
    expect(container.dataset.canPay).toBe('loading')
    expect(fundsAllowApprove(container)).toBe(true)
    await waitFor(() => container.dataset.canPay === 'false')
    renderPlanFunds(container, plan(), ctx) // the page renders again: no new request
    renderPlanFunds(container, plan(), ctx)
    expect(api.requests.map((r) => [r.method, r.path])).toEqual([['GET', '/api/workflows/wf-1/funds']])
    expect(fundsAllowApprove(container)).toBe(false)
    expect(events).toEqual([{ canPay: false }])
    expect($(container, 'funds-verdict')?.textContent).toBe('Your wallet is short by 0.804 ALGO.')
    expect($(container, 'funds-message')?.textContent).toBe(SHORT.message)
    expect($(container, 'funds-balance')?.textContent).toBe('0 ALGO')
    expect($(container, 'funds-total')?.textContent).toBe('0.804 ALGO')
    const again = $(container, 'funds-check-again') as HTMLButtonElement
    expect(visible(again)).toBe(true)

    answer = FUNDS // the person funded the wallet
    again.click()
    await waitFor(() => container.dataset.canPay === 'true')
    expect(api.requests).toHaveLength(2)
    expect(fundsAllowApprove(container)).toBe(true)
    expect(events).toEqual([{ canPay: false }, { canPay: true }])
    expect(visible($(container, 'funds-check-again'))).toBe(false)
    expect($(container, 'funds-verdict')?.textContent).toBe('Your wallet can pay for this plan.')

    renderPlanFunds(container, plan({ total_cost_microalgo: 900_000 }), ctx) // another price: asks again
    await waitFor(() => api.requests.length === 3)
  })

  test('a failed request leaves Approve possible and says so in words', async () => {
    const { ctx } = await context(() => ({ status: 404, json: { error: { code: 'RouteNotFound', message: 'No route.' } } }))
    const container = mount()
    renderPlanFunds(container, plan(), ctx)
    await waitFor(() => container.dataset.canPay === 'unknown')
    expect($(container, 'funds-error')?.textContent).toBe("The wallet's balance cannot be checked right now: No route.")
    expect(fundsAllowApprove(container)).toBe(true)
    expect(visible($(container, 'funds-check-again'))).toBe(true)
  })
})

describe('the agents page', () => {
  const AGENTS: AgentCard[] = [
    { id: 'med', name: 'Medical Diagnosis Agent', description: 'Suggests causes of symptoms', price_microalgo: 300_000, tags: ['health'], data_input: 'Symptoms in words', example_input: 'headache and runny nose' },
    { id: 'bare', name: 'Bare Agent', description: null, price_microalgo: 1, tags: [], data_input: null, example_input: null },
  ]

  test('an agent without input words says plain text is fine', () => {
    expect(agentInputLines(AGENTS[1])).toEqual({ wants: 'Plain text: say what you need in your own words.', example: '' })
  })

  test('lists the agents with price, description and wanted input', async () => {
    const { ctx, api } = await context(() => ({ json: { agents: AGENTS } }))
    const root = mount()
    dispose = agentsPage(root, ctx)
    await waitFor(() => $(root, 'agent-1'))
    expect(api.requests.map((r) => r.path)).toEqual(['/api/agents'])
    expect($(root, 'agent-name-0')?.textContent).toBe('Medical Diagnosis Agent')
    expect($(root, 'agent-price-0')?.textContent).toBe('0.3 ALGO')
    expect($(root, 'agent-input-0')?.textContent).toBe('Symptoms in words')
    expect($(root, 'agent-example-0')?.textContent).toBe('headache and runny nose')
    expect($(root, 'agent-price-1')?.textContent).toBe('0.000001 ALGO')
    expect($(root, 'agent-example-1')).toBeNull()
    expect(visible($(root, 'agents-loading'))).toBe(false)
    expect(visible($(root, 'agents-empty'))).toBe(false)
  })

  test('an error is shown in words with Try again', async () => {
    let fail = true
    const { ctx } = await context(() => (fail ? { status: 503, json: { error: { code: 'StoreUnavailable', message: 'The store is down.' } } } : { json: { agents: [] } }))
    const root = mount()
    dispose = agentsPage(root, ctx)
    await waitFor(() => visible($(root, 'agents-retry')))
    expect($(root, 'agents-error')?.textContent).toContain('The store is down.')
    fail = false
    $(root, 'agents-retry')?.click()
    await waitFor(() => visible($(root, 'agents-empty')))
    expect($(root, 'agents-error')?.textContent).toBe('')
  })
})

function summary(n: number, extra: Partial<WorkflowSummary> = {}): WorkflowSummary {
  return {
    workflow_id: `wf-${n}`,
    status: 'completed',
    user_message: `request ${n}`,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    total_cost_microalgo: 800_000,
    current_step: 2,
    step_count: 2,
    ...extra,
  }
}

describe('the history page', () => {
  test('pages are appended without repeating a workflow already shown', () => {
    const merged = mergePage([summary(3), summary(2)], { workflows: [summary(2), summary(1)], next_cursor: null })
    expect(merged.map((w) => w.workflow_id)).toEqual(['wf-3', 'wf-2', 'wf-1'])
  })

  test('progress, time and request read as words', () => {
    expect(summaryProgress(summary(1, { status: 'running', current_step: 1 }))).toBe('at step 1 of 2')
    expect(summaryProgress(summary(1, { status: 'planned', current_step: 0, step_count: 1 }))).toBe('1 step, not approved yet')
    expect(summaryProgress(summary(1, { status: 'failed', current_step: 2, step_count: 3 }))).toBe('stopped at step 2 of 3')
    expect(summaryProgress(summary(1))).toBe('2 steps, all done')
    const now = new Date('2026-01-01T12:00:00Z')
    expect(formatWhen('2026-01-01T11:59:30Z', now)).toBe('just now')
    expect(formatWhen('2026-01-01T11:45:00Z', now)).toBe('15 min ago')
    expect(formatWhen('2026-01-01T09:00:00Z', now)).toBe('3 h ago')
    expect(formatWhen('not a date', now)).toBe('not a date')
    expect(shortRequest('a\n  b')).toBe('a b')
    const long = shortRequest('x'.repeat(300))
    expect([long.length, long.endsWith('…')]).toEqual([140, true])
  })

  test('lists newest first, links each, and Load more asks with the cursor until the last page', async () => {
    const pages: Record<string, unknown> = {
      '': { workflows: [summary(3, { status: 'running', current_step: 1 }), summary(2)], next_cursor: 'c2' },
      c2: { workflows: [summary(1, { status: 'failed', current_step: 1 })], next_cursor: null },
    }
    const { ctx, api } = await context((r) => ({ json: pages[new URL(r.path, 'http://x').searchParams.get('cursor') ?? ''] }))
    const root = mount()
    dispose = historyPage(root, ctx)
    await waitFor(() => $(root, 'workflow-row-1'))
    expect($(root, 'workflow-link-0')?.getAttribute('href')).toBe('/workflow/wf-3')
    expect($(root, 'workflow-link-0')?.textContent).toBe('request 3')
    expect($(root, 'workflow-status-0')?.dataset.status).toBe('running')
    expect($(root, 'workflow-cost-0')?.textContent).toBe('0.8 ALGO')
    expect($(root, 'workflow-progress-0')?.textContent).toBe('at step 1 of 2')
    const more = $(root, 'workflows-more') as HTMLButtonElement
    await waitFor(() => visible(more))
    more.click()
    await waitFor(() => $(root, 'workflow-row-2'))
    expect($(root, 'workflow-row-2')?.dataset.workflowId).toBe('wf-1')
    expect(api.requests.map((r) => r.path)).toEqual([`/api/workflows?limit=${HISTORY_PAGE_SIZE}`, `/api/workflows?limit=${HISTORY_PAGE_SIZE}&cursor=c2`])
    await waitFor(() => !visible($(root, 'workflows-more')))
    expect($(root, 'workflows-count')?.textContent).toBe('Showing 3 workflows.')
  })

  test('no workflows: says so and links to a new request', async () => {
    const { ctx } = await context(() => ({ json: { workflows: [], next_cursor: null } }))
    const root = mount()
    dispose = historyPage(root, ctx)
    await waitFor(() => visible($(root, 'workflows-empty')))
    expect($(root, 'workflows-empty')?.querySelector('a')?.getAttribute('href')).toBe('/orchestrator')
  })
})
