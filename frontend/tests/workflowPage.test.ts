// @vitest-environment happy-dom
// The workflow page against a loopback API and algod: what it shows for a workflow as the API
// returns it, and the preview before signing.
import { afterEach, expect, test, vi } from 'vitest'

import { ApiClient } from '../src/api'
import { parseConfig } from '../src/config'
import { workflowIdFromPath, workflowPage } from '../src/pages/workflow'
import type { PaymentReceipt, StepView, WorkflowView } from '../src/types'
import { createWalletManager } from '../src/wallet'
import { AGENT, PAYER, encode, paymentGroup } from './fixtures'
import { algodAt, serve, type Handler, type Loopback } from './loopback'
import { $, visible, waitFor } from './pageHelpers'

const servers: Loopback[] = []
let dispose: (() => void) | null = null
afterEach(async () => {
  dispose?.()
  dispose = null
  await Promise.all(servers.splice(0).map((s) => s.close()))
  document.body.replaceChildren()
})

const ATTACK = '<img src=x onerror="window.pwned=1">'

function view(steps: StepView[], status: WorkflowView['status'] = 'running'): WorkflowView {
  return {
    workflow_id: 'wf-1',
    status,
    user_message: 'I have a headache',
    wallet_address: PAYER,
    reasoning: `Diagnose first. ${ATTACK}`,
    current_step: 2,
    total_cost_microalgo: 800_000,
    budget_microalgo: null,
    attempt: 1,
    steps,
    final_output: null,
    error: null,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
  }
}

const txns = paymentGroup({ amount: 300_000, lastValid: 1100 })
const STEPS: StepView[] = [
  {
    step_number: 1,
    agent_id: 'a1',
    agent_name: 'Medical Diagnosis Agent',
    description: 'Diagnose',
    input_data: { symptoms: 'headache' },
    input_preview: 'symptoms: headache',
    status: 'succeeded',
    price_microalgo: 500_000,
    resolved_input: 'headache',
    output: { condition: 'cold', note: ATTACK },
    receipt: { txn_ids: ['TXA', 'TXB'], confirmed_round: 42, amount_microalgo: 500_000, receiver: AGENT },
  },
  {
    step_number: 2,
    agent_id: 'a2',
    agent_name: 'Movie Recommendation Agent',
    description: 'Recommend movies',
    input_data: { condition: '{{step_1_output}}' },
    // As the API words it (templating.input_preview): no template syntax reaches the page.
    input_preview: 'condition: the output of step 1 (Medical Diagnosis Agent)',
    status: 'awaiting_payment',
    price_microalgo: 300_000,
    resolved_input: 'cold',
    unsigned_group_txns: encode(txns),
    txn_ids: txns.map((t) => t.txID()),
    last_valid_round: 1100,
  },
]

async function open(
  workflow: WorkflowView,
  handler: Handler = () => ({ json: workflow }),
): Promise<{ root: HTMLElement; api: Loopback; algod: Loopback }> {
  const api = await serve(handler)
  const algod = await algodAt(500)
  servers.push(api, algod)
  const config = parseConfig({ apiBaseUrl: api.url, network: 'localnet', algod: { baseServer: algod.url } })
  const root = document.createElement('main')
  document.body.appendChild(root)
  dispose = workflowPage('wf-1')(root, {
    config,
    api: new ApiClient(config.apiBaseUrl, async () => 'token'),
    wallets: createWalletManager(config),
    navigate: () => {},
  })
  await waitFor(() => root.querySelector('[data-testid="step-2"]'))
  return { root, api, algod }
}



test('the workflow id comes from the path', () => {
  expect(workflowIdFromPath('/workflow/3f0c1a52-9e1b')).toBe('3f0c1a52-9e1b')
  expect(workflowIdFromPath('/workflow/a%20b/')).toBe('a b')
  expect(workflowIdFromPath('/workflow/')).toBeNull()
  expect(workflowIdFromPath('/workflow/a/b')).toBeNull()
})

test('the page shows the plan, each step and its status as the API has them', async () => {
  const { root, api } = await open(view(STEPS))
  expect(api.requests[0].path).toBe('/api/workflows/wf-1')
  expect(api.requests[0].headers.authorization).toBe('Bearer token')
  expect($(root, 'workflow-status')?.dataset.status).toBe('running')
  expect($(root, 'workflow-total')?.textContent).toBe('0.8 ALGO')
  expect($(root, 'workflow-reasoning')?.textContent).toBe(`Diagnose first. ${ATTACK}`)
  expect($(root, 'step-agent-1')?.textContent).toBe('Medical Diagnosis Agent')
  expect($(root, 'step-price-1')?.textContent).toBe('0.5 ALGO')
  expect($(root, 'step-status-1')?.textContent).toBe('Succeeded')
  expect($(root, 'step-status-2')?.dataset.status).toBe('awaiting_payment')
  expect($(root, 'step-input-value-2')?.textContent).toBe('cold')
  // The receipt names the agent (the address shortened), the round and each txid.
  expect($(root, 'step-receipt-1-summary')?.textContent).toBe(
    `Paid 0.5 ALGO to Medical Diagnosis Agent (${AGENT.slice(0, 6)}…${AGENT.slice(-6)}); confirmed in round 42.`,
  )
  expect($(root, 'step-receipt-1-txid-0')?.dataset.full).toBe('TXA')
  expect($(root, 'step-receipt-1-txid-1-full')?.textContent).toBe('TXB')
  expect($(root, 'step-receipt-1-txid-0-link')).toBeNull() // no explorer on the local stack
  // JSON output as a tree of its fields, as text.
  expect(Array.from($(root, 'step-output-1')?.querySelectorAll('li') ?? []).map((li) => li.textContent)).toEqual([
    'condition: cold',
    `note: ${ATTACK}`,
  ])
  expect(root.querySelector('img')).toBeNull()
  expect(visible($(root, 'step-pay-2'))).toBe(true)
  expect(visible($(root, 'step-pay-1'))).toBe(false)
  expect(visible($(root, 'cancel'))).toBe(true)
  expect(visible($(root, 'resume'))).toBe(false)
  expect(visible($(root, 'approve-start'))).toBe(false)
  expect($(root, 'wallet-mismatch')?.textContent).toBe(`Connect the wallet ${PAYER.slice(0, 6)}…${PAYER.slice(-6)} to sign.`)
})

test('Sign & pay first shows what will be signed; without the wallet, signing stays disabled', async () => {
  const { root } = await open(view(STEPS))
  $(root, 'step-pay-2')?.click()
  const confirm = await waitFor(() => (visible($(root, 'step-confirm-pay-2')) ? $(root, 'step-confirm-pay-2') : null))
  expect($(root, 'step-preview-2-txn-0-receiver')?.textContent).toBe(AGENT)
  expect($(root, 'step-preview-2-txn-0-amount')?.textContent).toBe('0.3 ALGO')
  expect($(root, 'step-preview-2-txn-1-app-id')?.textContent).toBe('1001')
  expect($(root, 'step-preview-2-total')?.textContent).toBe('You pay 0.3 ALGO plus 0.002 ALGO in network fees.')
  expect((confirm as HTMLButtonElement).disabled).toBe(true)
  expect($(root, 'step-confirm-hint-2')?.textContent).toContain('Connect the wallet')
  expect(visible($(root, 'step-pay-2'))).toBe(false)
  $(root, 'step-cancel-pay-2')?.click()
  expect(visible($(root, 'step-preview-2'))).toBe(false)
  expect(visible($(root, 'step-pay-2'))).toBe(true)
})

test('a planned workflow offers Approve & start; a failed one Resume', async () => {
  const planned = STEPS.map((s) => ({
    ...s,
    status: 'pending' as const,
    resolved_input: null,
    output: null,
    receipt: null,
    unsigned_group_txns: [],
  }))
  const first = await open(view(planned, 'planned'))
  expect($(first.root, 'approve-start')?.textContent).toBe('Approve & start')
  expect(visible($(first.root, 'approve-start'))).toBe(true)
  expect(visible($(first.root, 'step-pay-2'))).toBe(false)
  // Before the step starts: what the agent will get, in words (no template syntax).
  expect($(first.root, 'step-input-value-2')?.textContent).toBe('condition: the output of step 1 (Medical Diagnosis Agent)')
  expect($(first.root, 'step-2')?.querySelector('h4')?.textContent).toBe('What Movie Recommendation Agent will get')
  expect(first.root.textContent).not.toContain('{{')
  dispose?.()
  document.body.replaceChildren()
  const failed = await open({ ...view(STEPS, 'failed'), error: { code: 'AgentJobFailed', message: 'The agent failed.' } })
  expect(visible($(failed.root, 'resume'))).toBe(true)
  expect(visible($(failed.root, 'cancel'))).toBe(false)
  expect($(failed.root, 'workflow-error')?.textContent).toBe('The agent failed. (AgentJobFailed)')
  // Terminal: the step awaiting payment offers no payment.
  expect(visible($(failed.root, 'step-pay-2'))).toBe(false)
})

test('leaving the page mid-payment stops live updates for good', async () => {
  // Count the page's visibilitychange listeners: the poller adds one while it runs.
  let listeners = 0
  const add = vi.spyOn(document, 'addEventListener').mockImplementation(function (this: Document, ...args) {
    if (args[0] === 'visibilitychange') listeners++
    return EventTarget.prototype.addEventListener.apply(this, args as Parameters<typeof EventTarget.prototype.addEventListener>)
  })
  const remove = vi.spyOn(document, 'removeEventListener').mockImplementation(function (this: Document, ...args) {
    if (args[0] === 'visibilitychange') listeners--
    return EventTarget.prototype.removeEventListener.apply(this, args as Parameters<typeof EventTarget.prototype.removeEventListener>)
  })
  try {
    const { root, api, algod } = await open(view(STEPS))
    $(root, 'step-pay-2')?.click()
    // Leave while the payment is being prepared (its round check is still to come).
    dispose?.()
    dispose = null
    await waitFor(() => algod.requests.some((r) => r.path.startsWith('/v2/status')))
    const seen = api.requests.length
    // Past the poller's first delay (1 s): nothing polls any more.
    await new Promise((r) => setTimeout(r, 1500))
    expect(api.requests).toHaveLength(seen)
    expect(listeners).toBe(0)
  } finally {
    add.mockRestore()
    remove.mockRestore()
  }
})

// --- paying again, and payments recorded late ------------------------------------------------------

const PAID_TXID = 'PAYTXN2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const APP_TXID = 'APPTXN2BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB'
const PAID: PaymentReceipt = { txn_ids: [PAID_TXID, APP_TXID], confirmed_round: 77, amount_microalgo: 300_000, receiver: AGENT }
const short = (t: string): string => `${t.slice(0, 6)}…${t.slice(-6)}`

/** Step 1 done; step 2 as `changes` say, its group and offer gone (as after a failure or timeout). */
function stoppedAt(status: WorkflowView['status'], changes: Partial<StepView>): WorkflowView {
  const step2: StepView = { ...STEPS[1], unsigned_group_txns: [], txn_ids: [], last_valid_round: null, ...changes }
  return { ...view([STEPS[0], step2], status), error: changes.error ?? null }
}

/** The API: GET answers `now()`; POST /start answers what `onStart` says (and may move `now` on). */
function stack(now: () => WorkflowView, onStart: (body: Record<string, unknown>) => { status?: number; json: unknown }): Handler {
  return (r) => {
    if (r.method === 'POST' && r.path === '/api/workflows/start') return onStart(JSON.parse(r.body) as Record<string, unknown>)
    return { json: now() }
  }
}

const startBodies = (api: Loopback): unknown[] =>
  api.requests.filter((r) => r.path === '/api/workflows/start').map((r) => JSON.parse(r.body))

const CONSENT_TEXT =
  'Step 2: the agent could not deliver the job you paid for. Resuming runs step 2 again as a new job, ' +
  `and you will pay for it again (0.3 ALGO). Your earlier payment's receipt (txid ${short(PAID_TXID)}, ${short(APP_TXID)}) is kept.`

test("a paid job the agent could not deliver: the page says resuming pays again, and resumes only with that consent", async () => {
  const failed = stoppedAt('failed', {
    status: 'failed',
    receipt: PAID,
    error: { code: 'AgentJobFailed', message: `The agent reported the job as failed. ${ATTACK}` },
  })
  // Resumed with consent: step 2 is a new job awaiting a new payment; the earlier receipt is kept.
  const fresh = paymentGroup({ amount: 300_000, firstValid: 450, lastValid: 1450 })
  const resumed: WorkflowView = {
    ...view([STEPS[0], { ...STEPS[1], unsigned_group_txns: encode(fresh), txn_ids: fresh.map((t) => t.txID()), last_valid_round: 1450, receipt: null, earlier_receipts: [PAID] }]),
    attempt: 2,
  }
  let now = failed
  const { root, api } = await open(failed, stack(() => now, () => ((now = resumed), { status: 202, json: resumed })))

  // Next to the buttons: what resuming costs, and a consent button instead of the plain Resume.
  expect($(root, 'repay-step-2')?.textContent).toBe(CONSENT_TEXT)
  expect(visible($(root, 'repay-notice'))).toBe(true)
  const consent = $(root, 'resume-repay') as HTMLButtonElement
  expect(visible(consent)).toBe(true)
  expect(consent.textContent).toBe('Pay again for step 2 and resume')
  expect(consent.getAttribute('aria-describedby')).toBe('repay-notice')
  expect(visible($(root, 'resume'))).toBe(false)
  expect(visible($(root, 'payment-recorded'))).toBe(false)
  expect($(root, 'step-receipt-2-summary')?.textContent).toBe(`Paid 0.3 ALGO to Movie Recommendation Agent (${short(AGENT)}); confirmed in round 77.`)
  expect($(root, 'step-receipt-2-txid-0')?.textContent).toBe(short(PAID_TXID))
  expect(visible($(root, 'step-earlier-receipts-2'))).toBe(false)
  expect(root.querySelector('img')).toBeNull()
  expect(startBodies(api)).toEqual([])

  consent.click()
  await waitFor(() => $(root, 'workflow-status')?.dataset.status === 'running')
  const start = api.requests.find((r) => r.path === '/api/workflows/start')
  expect(JSON.parse(start?.body ?? '')).toEqual({ workflow_id: 'wf-1', repay_steps: [2] })
  expect(start?.headers['idempotency-key']).toBeTruthy()
  // Now: a new payment is asked for step 2, and the earlier one is shown as kept.
  expect(visible($(root, 'repay-notice'))).toBe(false)
  expect(visible($(root, 'resume-repay'))).toBe(false)
  expect(visible($(root, 'step-receipt-2'))).toBe(false)
  expect($(root, 'step-earlier-receipt-2-0-summary')?.textContent).toBe(
    `Earlier payment, kept: Paid 0.3 ALGO to Movie Recommendation Agent (${short(AGENT)}); confirmed in round 77.`,
  )
  expect(visible($(root, 'step-earlier-receipts-2'))).toBe(true)
  expect($(root, 'step-earlier-receipts-2')?.getAttribute('aria-label')).toBe('Earlier payments for step 2')
  expect(visible($(root, 'step-pay-2'))).toBe(true)
})

test('a plain Resume answered 409 RepayConsentRequired shows the same explanation and the consent button', async () => {
  // A view that does not tell (an error code this page does not know as "job over"): the API does.
  const failed = stoppedAt('failed', { status: 'failed', receipt: PAID, error: { code: 'SomethingElse', message: 'It failed.' } })
  const resumed = { ...view([STEPS[0], { ...STEPS[1], status: 'pending' as const, receipt: null, earlier_receipts: [PAID] }]), attempt: 2 }
  let now = failed
  const refusal = {
    status: 409,
    json: { error: { code: 'RepayConsentRequired', message: 'The agent could not deliver the paid job of step 2.', details: { repay_steps: [2] } } },
  }
  const { root, api } = await open(
    failed,
    stack(
      () => now,
      (body) => (body.repay_steps ? ((now = resumed), { status: 202, json: resumed }) : refusal),
    ),
  )
  // What the view says: the payment is recorded (the step stopped with a receipt).
  expect(visible($(root, 'payment-recorded-2'))).toBe(true)
  expect(visible($(root, 'resume'))).toBe(true)
  expect(visible($(root, 'resume-repay'))).toBe(false)
  $(root, 'resume')?.click()
  // (enabled once the page has reloaded the workflow after the refusal)
  const consent = await waitFor(() => {
    const button = $(root, 'resume-repay') as HTMLButtonElement | null
    return button && visible(button) && !button.disabled ? button : null
  })
  expect(consent.textContent).toBe('Pay again for step 2 and resume')
  expect($(root, 'repay-step-2')?.textContent).toBe(CONSENT_TEXT)
  expect(visible($(root, 'resume'))).toBe(false)
  // The refusal is explained by the consent text, not shown as an error; no "recorded" promise.
  expect($(root, 'page-error')?.textContent).toBe('')
  expect($(root, 'payment-recorded-2')).toBeNull()
  expect(startBodies(api)).toEqual([{ workflow_id: 'wf-1' }])
  expect(document.activeElement).toBe(consent)

  consent.click()
  await waitFor(() => $(root, 'workflow-status')?.dataset.status === 'running')
  expect(startBodies(api)).toEqual([{ workflow_id: 'wf-1' }, { workflow_id: 'wf-1', repay_steps: [2] }])
  expect(visible($(root, 'resume-repay'))).toBe(false)
  expect(visible($(root, 'step-earlier-receipt-2-0'))).toBe(true)
})

test('a payment recorded after its step stopped waiting: Resume continues without asking to pay again', async () => {
  const late = stoppedAt('failed', {
    status: 'payment_timeout',
    receipt: PAID,
    error: { code: 'PaymentTimeout', message: 'No payment arrived in time.' },
  })
  const resumed = { ...view([STEPS[0], { ...STEPS[1], status: 'payment_submitted' as const, receipt: PAID }]), attempt: 2 }
  let now = late
  const { root, api } = await open(late, stack(() => now, () => ((now = resumed), { status: 202, json: resumed })))
  expect($(root, 'payment-recorded-2')?.textContent).toBe(
    'Your payment for step 2 is recorded. Resume to continue; you will not be asked to pay again.',
  )
  // Step 1's receipt is an ordinary one (it succeeded): nothing to say about it.
  expect($(root, 'payment-recorded-1')).toBeNull()
  expect(visible($(root, 'repay-notice'))).toBe(false)
  expect(visible($(root, 'resume-repay'))).toBe(false)
  const resume = $(root, 'resume') as HTMLButtonElement
  expect(visible(resume)).toBe(true)
  expect(resume.getAttribute('aria-describedby')).toBe('payment-recorded')
  resume.click()
  await waitFor(() => $(root, 'workflow-status')?.dataset.status === 'running')
  expect(startBodies(api)).toEqual([{ workflow_id: 'wf-1' }])
  expect(visible($(root, 'payment-recorded'))).toBe(false)
  expect(visible($(root, 'step-pay-2'))).toBe(false)
})

test('a re-quote that finds the step already paid shows it paid and offers nothing to sign', async () => {
  // The offered group expired (algod is at round 500), but it was confirmed on chain meanwhile.
  const expired = paymentGroup({ amount: 300_000, firstValid: 100, lastValid: 400 })
  const awaiting: StepView = { ...STEPS[1], unsigned_group_txns: encode(expired), txn_ids: expired.map((t) => t.txID()), last_valid_round: 400 }
  const paid: StepView = { ...awaiting, status: 'running', receipt: PAID }
  let now = view([STEPS[0], awaiting])
  const { root, api } = await open(now, (r) => {
    if (r.path === '/api/workflows/step/start_job') {
      now = view([STEPS[0], paid])
      return { json: paid }
    }
    return { json: now }
  })
  $(root, 'step-pay-2')?.click()
  await waitFor(() => $(root, 'step-status-2')?.dataset.status === 'running')
  expect(api.requests.filter((r) => r.path === '/api/workflows/step/start_job')).toHaveLength(1)
  expect(visible($(root, 'step-preview-2'))).toBe(false)
  expect(visible($(root, 'step-pay-2'))).toBe(false)
  expect($(root, 'step-pay-error-2')?.textContent).toBe('')
  expect($(root, 'step-pay-detail-2')?.textContent).toBe(
    'Your earlier payment for step 2 is confirmed on chain and recorded; you do not pay again.',
  )
  expect(visible($(root, 'step-receipt-2'))).toBe(true)
})

// --- live updates ----------------------------------------------------------------------------------

test('live updates long-poll with the last ETag; a new version shows at once; an action asks again at once', async () => {
  const paidStep: StepView = { ...STEPS[1], status: 'payment_submitted', unsigned_group_txns: [], last_valid_round: null }
  const versions: Record<string, WorkflowView> = {
    '"v1"': view(STEPS),
    '"v2"': view([STEPS[0], paidStep]),
    '"v3"': view([STEPS[0], { ...paidStep, status: 'cancelled' }], 'cancelled'),
  }
  let current = '"v1"'
  const held: (() => void)[] = []
  const wake = (): void => held.splice(0).forEach((answer) => answer())
  // As the API answers: every version with its ETag, never to be stored by the browser.
  const versioned = (): Record<string, string> => ({ ETag: current, 'Cache-Control': 'no-store' })
  const answerNow = () => ({ json: versions[current], headers: versioned() })
  const handler: Handler = (r) => {
    if (r.method === 'POST' && r.path === '/api/workflows/cancel') {
      current = '"v3"' // held requests are not told: only a new request sees it at once
      return { json: versions[current] }
    }
    const sent = r.headers['if-none-match']
    if (!r.path.endsWith('?wait=20') || sent !== current) return answerNow()
    // Held until the workflow changes (the test moves it on).
    return new Promise((resolve) => held.push(() => resolve(sent === current ? { status: 304, headers: versioned() } : answerNow())))
  }
  const { root, api } = await open(versions['"v1"'], handler)
  const gets = () => api.requests.filter((r) => r.method === 'GET').map((r) => [r.path, r.headers['if-none-match']])
  await waitFor(() => held.length === 1)
  expect(gets()).toEqual([
    ['/api/workflows/wf-1', undefined],
    ['/api/workflows/wf-1?wait=20', '"v1"'],
  ])

  // The payment lands in the store: the held request is answered and the page shows it at once.
  current = '"v2"'
  const changed = Date.now()
  wake()
  await waitFor(() => $(root, 'step-status-2')?.dataset.status === 'payment_submitted')
  expect(Date.now() - changed).toBeLessThan(1000)
  await waitFor(() => held.length === 1)
  expect(gets().slice(2)).toEqual([['/api/workflows/wf-1?wait=20', '"v2"']])

  // The person cancels (and confirms): the held request is cut short and the page asks again at once.
  $(root, 'cancel')?.click()
  $(root, 'cancel-confirm')?.click()
  await waitFor(() => $(root, 'workflow-status')?.dataset.status === 'cancelled')
  await waitFor(() => gets().length === 4)
  expect(gets()[3]).toEqual(['/api/workflows/wf-1?wait=20', '"v2"'])
  expect(held).toHaveLength(1) // the cut one, never answered
  // Cancelled is terminal: live updates stop.
  await new Promise((r) => setTimeout(r, 300))
  expect(gets()).toHaveLength(4)
})

// --- what to do next (issue 10, point 3) -----------------------------------------------------------

const nextKind = (root: ParentNode): string | undefined => $(root, 'next-action')?.dataset.kind
const titleText = (root: ParentNode): string => $(root, 'next-action-title')?.textContent ?? ''
/** True when `a` comes before `b` in the page. */
const before = (a: Element | null, b: Element | null): boolean => !!a && !!b && !!(a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING)

const PLANNED: StepView[] = STEPS.map((s) => ({ ...s, status: 'pending' as const, resolved_input: null, output: null, receipt: null, unsigned_group_txns: [], txn_ids: [] }))

test('a planned workflow leads with "Review the plan and approve"; Approve comes after the steps and the funds', async () => {
  const { root } = await open(view(PLANNED, 'planned'))
  const box = $(root, 'next-action')
  expect(nextKind(root)).toBe('review')
  expect(titleText(root)).toBe('Review the plan and approve')
  expect($(root, 'next-action-detail')?.textContent).toContain('Approve & start is below the steps')
  // The box leads: before the plan, the steps and everything else.
  expect(before(box, $(root, 'workflow-summary'))).toBe(true)
  expect(before(box, $(root, 'steps'))).toBe(true)
  // Approve is below the last step, and the funds box (F2's) between them.
  expect(before($(root, 'step-2'), $(root, 'plan-funds'))).toBe(true)
  expect(before($(root, 'plan-funds'), $(root, 'approve-start'))).toBe(true)
  expect(visible($(root, 'plan-funds'))).toBe(true)
  expect(visible($(root, 'next-action-spinner'))).toBe(false)
  expect($(root, 'next-action-since')).toBeNull()
})

test('a step awaiting payment: the box says pay step n and holds its pay button and the wallet', async () => {
  const { root } = await open(view(STEPS))
  const box = $(root, 'next-action') as HTMLElement
  expect(nextKind(root)).toBe('pay')
  expect(box.dataset.step).toBe('2')
  expect(titleText(root)).toBe('Pay step 2: Movie Recommendation Agent')
  expect($(root, 'next-action-detail')?.textContent).toContain('0.3 ALGO plus network fees')
  expect(box.contains($(root, 'step-pay-2'))).toBe(true)
  expect(box.contains($(root, 'wallet-panel'))).toBe(true)
  expect(box.contains($(root, 'wallet-mismatch'))).toBe(true)
  expect(visible($(root, 'step-pay-at-top-2'))).toBe(true)
  expect($(root, 'step-2')?.contains($(root, 'step-pay-2'))).toBe(false)
  // The preview opens in the box, right there.
  $(root, 'step-pay-2')?.click()
  await waitFor(() => visible($(root, 'step-preview-2')))
  expect(box.contains($(root, 'step-preview-2'))).toBe(true)
})

test('a running step: "Waiting for <agent> since N s", counting live, with a spinner; then the next action, scrolled to', async () => {
  const startedAt = new Date(Date.now() - 12_000).toISOString()
  const running: StepView = { ...STEPS[1], status: 'running', unsigned_group_txns: [], receipt: PAID, started_at: startedAt }
  let now = view([STEPS[0], running])
  const { root } = await open(now, () => ({ json: now }))
  expect(nextKind(root)).toBe('waiting')
  expect(titleText(root)).toMatch(/^Waiting for Movie Recommendation Agent since 1[2-3] s$/)
  // Opened mid-run: the wait counts from when the step started, as the API says.
  const elapsed = $(root, 'next-action-elapsed') as HTMLElement
  expect($(root, 'next-action-since')?.textContent).toMatch(/^ since 1[2-3] s$/)
  expect(visible($(root, 'next-action-spinner'))).toBe(true)
  expect($(root, 'next-action-announce')?.textContent).toBe('Waiting for Movie Recommendation Agent')
  const first = elapsed.textContent
  await waitFor(() => elapsed.textContent !== first, 2500)
  expect(elapsed.textContent).toMatch(/^1[3-4] s$/)

  // Done: the box changes to the final output and is scrolled into view.
  const scrolled: string[] = []
  const box = $(root, 'next-action') as HTMLElement
  box.scrollIntoView = () => void scrolled.push(box.dataset.kind ?? '')
  const output = { recommendations: [{ title: 'Paddington' }] }
  now = { ...view([STEPS[0], { ...running, status: 'succeeded', output }], 'completed'), final_output: output }
  await waitFor(() => nextKind(root) === 'done', 25_000)
  expect(scrolled).toEqual(['done'])
  expect(visible($(root, 'next-action-spinner'))).toBe(false)
  expect($(root, 'next-action-since')).toBeNull()
  expect(titleText(root)).toBe('Done')
}, 30_000)

test('formatElapsed reads as seconds, then minutes, then hours', async () => {
  const { formatElapsed } = await import('../src/status')
  expect(formatElapsed(-5)).toBe('0 s')
  expect(formatElapsed(12_400)).toBe('12 s')
  expect(formatElapsed(65_000)).toBe('1 min 05 s')
  expect(formatElapsed(3_725_000)).toBe('1 h 02 min')
})

// --- outputs and receipts (issue 10, point 5) -------------------------------------------------------

const FEE_PAID: PaymentReceipt = { ...PAID, fee_microalgo: 2000 }

function completed(extra: Partial<WorkflowView> = {}): WorkflowView {
  const output = { recommendations: [{ title: 'Paddington', year: 2014 }], note: 'Rest well.' }
  const first = { ...STEPS[0], output: 'You probably have a cold.\n\nDrink water and rest.', receipt: { ...STEPS[0].receipt!, fee_microalgo: 2000 } }
  const last: StepView = { ...STEPS[1], status: 'succeeded', unsigned_group_txns: [], receipt: FEE_PAID, output }
  return { ...view([first, last], 'completed'), final_output: output, ...extra }
}

test('completed: "Done" and the final output once, at the top; the last step points to it; text output as paragraphs', async () => {
  const { root } = await open(completed({ total_paid_microalgo: 804_000 }))
  const box = $(root, 'next-action') as HTMLElement
  expect(nextKind(root)).toBe('done')
  expect(titleText(root)).toBe('Done')
  expect(box.contains($(root, 'final-output'))).toBe(true)
  expect(root.querySelectorAll('[data-testid="final-output"]')).toHaveLength(1)
  // Shown once: the last step has no output of its own on the page, only a pointer to the final one.
  expect($(root, 'step-output-2')).toBeNull()
  expect(visible($(root, 'step-output-ref-2'))).toBe(true)
  expect(root.textContent?.split('Paddington').length).toBe(2)
  // Step 1's text output: readable paragraphs.
  expect(Array.from($(root, 'step-output-1')?.querySelectorAll('p') ?? []).map((p) => p.textContent)).toEqual([
    'You probably have a cold.',
    'Drink water and rest.',
  ])
  expect(visible($(root, 'step-output-ref-1'))).toBe(false)
  // The total paid, fees included, as the API says; the plan's controls are gone.
  expect($(root, 'workflow-total-paid')?.textContent).toBe('0.804 ALGO')
  expect($(root, 'workflow-paid')?.textContent).toBe('Paid in total: 0.804 ALGO, network fees included')
  expect(visible($(root, 'workflow-controls'))).toBe(false)
})

test('a final output that differs from the last step’s is shown in both places', async () => {
  const { root } = await open(completed({ final_output: 'A summary of everything.' }))
  expect($(root, 'final-output')?.textContent).toBe('A summary of everything.')
  expect(visible($(root, 'step-output-2'))).toBe(true)
  expect(visible($(root, 'step-output-ref-2'))).toBe(false)
})

test('receipts: agent, amount, fee, round, each txid shortened with the full one, a copy button and an explorer link', async () => {
  const writeText = vi.fn(async () => {})
  vi.stubGlobal('navigator', { ...navigator, clipboard: { writeText } })
  try {
    const { root } = await open(completed({ explorer_txn_url: 'https://lora.algokit.io/testnet/transaction/{txid}', total_paid_microalgo: 804_000 }))
    expect($(root, 'step-receipt-2-summary')?.textContent).toBe(
      `Paid 0.3 ALGO to Movie Recommendation Agent (${short(AGENT)}), network fee 0.002 ALGO; confirmed in round 77.`,
    )
    expect($(root, 'step-receipt-2-agent')?.textContent).toBe('Movie Recommendation Agent')
    expect($(root, 'step-receipt-2-fee')?.textContent).toBe('0.002 ALGO')
    expect($(root, 'step-receipt-2-round')?.textContent).toBe('77')
    expect($(root, 'step-receipt-2-txid-0')?.textContent).toBe(short(PAID_TXID))
    expect($(root, 'step-receipt-2-txid-0-full')?.textContent).toBe(PAID_TXID)
    expect($(root, 'step-receipt-2-txid-0-link')?.getAttribute('href')).toBe(`https://lora.algokit.io/testnet/transaction/${PAID_TXID}`)
    expect($(root, 'step-receipt-2-txid-1-link')?.getAttribute('href')).toBe(`https://lora.algokit.io/testnet/transaction/${APP_TXID}`)
    expect($(root, 'step-receipt-2-txid-0-link')?.getAttribute('rel')).toBe('noopener noreferrer')
    // Copy buttons: the full txid, each output's text or JSON.
    $(root, 'step-receipt-2-txid-1-copy')?.click()
    await waitFor(() => writeText.mock.calls.length === 1)
    expect(writeText).toHaveBeenLastCalledWith(APP_TXID)
    $(root, 'final-output-copy')?.click()
    await waitFor(() => writeText.mock.calls.length === 2)
    expect(JSON.parse((writeText.mock.calls[1] as unknown as [string])[0])).toEqual(completed().final_output)
    $(root, 'step-output-1-copy')?.click()
    await waitFor(() => writeText.mock.calls.length === 3)
    expect(writeText).toHaveBeenLastCalledWith('You probably have a cold.\n\nDrink water and rest.')
    await waitFor(() => $(root, 'step-output-1-copy-status')?.textContent === 'Copied')
  } finally {
    vi.unstubAllGlobals()
  }
})

test('an explorer template that is not http(s) gives no link', async () => {
  const { explorerLink } = await import('../src/pages/workflow')
  expect(explorerLink('javascript:alert({txid})', 'T')).toBeNull()
  expect(explorerLink(null, 'T')).toBeNull()
  expect(explorerLink('https://x/{txid}?again={txid}', 'A B')).toBe('https://x/A%20B?again=A%20B')
})

test('the total paid is the API’s (amounts and fees, earlier receipts included)', async () => {
  const { totalPaid } = await import('../src/pages/workflow')
  expect(totalPaid(completed({ total_paid_microalgo: 804_000 }))).toEqual({ microalgo: 804_000, any: true })
  expect(totalPaid(view(PLANNED, 'planned'))).toEqual({ microalgo: 0, any: false })
})

test('the API’s input_preview is what the agent will get', async () => {
  const planned = PLANNED.map((s) => (s.step_number === 2 ? { ...s, input_preview: 'the output of step 1 (Medical Diagnosis Agent), as a condition' } : s))
  const { root } = await open(view(planned, 'planned'))
  expect($(root, 'step-input-value-2')?.textContent).toBe('the output of step 1 (Medical Diagnosis Agent), as a condition')
})

// --- cancel asks first ------------------------------------------------------------------------------

test('Cancel asks on the page first, saying paid steps are not charged again; "No" cancels nothing', async () => {
  const paidRunning: StepView = { ...STEPS[1], status: 'running', unsigned_group_txns: [], receipt: PAID }
  let now = view([STEPS[0], paidRunning])
  const cancelled = view([STEPS[0], { ...paidRunning, status: 'cancelled' }], 'cancelled')
  const { root, api } = await open(now, (r) => {
    if (r.method === 'POST' && r.path === '/api/workflows/cancel') now = cancelled
    return { json: now }
  })
  const cancels = () => api.requests.filter((r) => r.path === '/api/workflows/cancel')
  expect(visible($(root, 'cancel-confirm-panel'))).toBe(false)
  $(root, 'cancel')?.click()
  expect(visible($(root, 'cancel-confirm-panel'))).toBe(true)
  expect(visible($(root, 'cancel'))).toBe(false)
  expect($(root, 'cancel-confirm-text')?.textContent).toBe(
    'The steps still to come will not run and nothing more is charged. ' +
      'You have paid for steps 1 and 2: those payments are kept, and paid steps will not be charged again when you resume.',
  )
  expect(document.activeElement).toBe($(root, 'cancel-confirm-text'))
  $(root, 'cancel-keep')?.click()
  expect(visible($(root, 'cancel-confirm-panel'))).toBe(false)
  expect(visible($(root, 'cancel'))).toBe(true)
  expect(cancels()).toHaveLength(0)

  $(root, 'cancel')?.click()
  $(root, 'cancel-confirm')?.click()
  await waitFor(() => nextKind(root) === 'cancelled')
  expect(cancels()).toHaveLength(1)
  expect(titleText(root)).toBe('Cancelled')
  expect($(root, 'next-action-detail')?.textContent).toBe(
    'Nothing more runs and nothing more is charged. Resume to continue from step 2. ' +
      'Steps already done are not run again, and resuming will not charge the paid steps again (steps 1 and 2).',
  )
  // Resume is right there, in the box.
  expect(($(root, 'next-action') as HTMLElement).contains($(root, 'resume'))).toBe(true)
  expect(visible($(root, 'resume'))).toBe(true)
})

test('failed: the box says which step failed, why, and what to do', async () => {
  const failed = stoppedAt('failed', { status: 'failed', receipt: PAID, error: { code: 'AgentJobFailed', message: 'The agent reported the job as failed.' } })
  const { root } = await open(failed)
  const box = $(root, 'next-action') as HTMLElement
  expect(nextKind(root)).toBe('failed')
  expect(titleText(root)).toBe('Step 2 failed')
  expect($(root, 'next-action-detail')?.textContent).toBe(
    'Step 2 (Movie Recommendation Agent) failed. What to do: resume to run it again from step 2. ' +
      'Steps already done are not run again, and resuming will not charge the paid steps again (step 1). ' +
      'Only step 2, whose paid job the agent could not deliver, would be paid again, and only if you agree (below).',
  )
  expect(box.contains($(root, 'workflow-error'))).toBe(true)
  expect(box.contains($(root, 'repay-notice'))).toBe(true)
  expect(box.contains($(root, 'resume-repay'))).toBe(true)
})
