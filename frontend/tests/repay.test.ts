// Paying again for a paid job the agent could not deliver, and payments recorded late: what the
// page reads from the API's view and says about them.
import { expect, test } from 'vitest'

import { ApiError } from '../src/api'
import {
  recordedPaymentStepsOf,
  recordedPaymentText,
  repayButtonLabel,
  repayExplanation,
  repayStepsAsked,
  repayStepsOf,
} from '../src/repay'
import type { PaymentReceipt, StepView, WorkflowView } from '../src/types'
import { AGENT } from './fixtures'

const TXID = 'PAYTXN2AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
const RECEIPT: PaymentReceipt = { txn_ids: [TXID], confirmed_round: 77, amount_microalgo: 300_000, receiver: AGENT }

function step(n: number, changes: Partial<StepView>): StepView {
  return {
    step_number: n,
    agent_id: `a${n}`,
    agent_name: `Agent ${n}`,
    description: `step ${n}`,
    input_data: {},
    status: 'pending',
    price_microalgo: 300_000,
    ...changes,
  }
}

function workflow(status: WorkflowView['status'], steps: StepView[]): WorkflowView {
  return {
    workflow_id: 'wf-1',
    status,
    user_message: 'm',
    wallet_address: 'W',
    reasoning: 'r',
    current_step: 1,
    total_cost_microalgo: 0,
    budget_microalgo: null,
    attempt: 1,
    steps,
    created_at: '',
    updated_at: '',
  }
}

const lost = step(2, { status: 'failed', receipt: RECEIPT, error: { code: 'AgentLostJob', message: 'lost' } })
const failedJob = step(3, { status: 'failed', receipt: RECEIPT, error: { code: 'AgentJobFailed', message: 'failed' } })
const unpaidFailure = step(4, { status: 'failed', receipt: null, error: { code: 'AgentJobFailed', message: 'failed' } })
const lateTimeout = step(5, { status: 'payment_timeout', receipt: RECEIPT, error: { code: 'PaymentTimeout', message: 'late' } })
const done = step(1, { status: 'succeeded', receipt: RECEIPT })

test('only a failed step with a receipt and a job-over error is paid again, and only while resumable', () => {
  const steps = [done, lost, failedJob, unpaidFailure, lateTimeout]
  expect(repayStepsOf(workflow('failed', steps))).toEqual([2, 3])
  expect(repayStepsOf(workflow('cancelled', steps))).toEqual([2, 3])
  expect(repayStepsOf(workflow('running', steps))).toEqual([])
})

test('a receipt on a step that stopped waiting (not one to pay again, not succeeded) is a recorded payment', () => {
  const steps = [done, lost, unpaidFailure, lateTimeout, step(6, { status: 'cancelled', receipt: RECEIPT })]
  expect(recordedPaymentStepsOf(workflow('failed', steps))).toEqual([5, 6])
  expect(recordedPaymentStepsOf(workflow('completed', steps))).toEqual([])
  expect(recordedPaymentText(5)).toBe('Your payment for step 5 is recorded. Resume to continue; you will not be asked to pay again.')
})

test('the explanation names the step, the new price and the kept receipt', () => {
  expect(repayExplanation(2, lost)).toBe(
    'Step 2: the agent could not deliver the job you paid for. Resuming runs step 2 again as a new job, ' +
      "and you will pay for it again (0.3 ALGO). Your earlier payment's receipt (txid PAYTXN…AAAAAA) is kept.",
  )
  // A step a refusal named that the view does not show (yet): still plain, without made-up numbers.
  expect(repayExplanation(9, undefined)).toBe(
    'Step 9: the agent could not deliver the job you paid for. Resuming runs step 9 again as a new job, ' +
      "and you will pay for it again. Your earlier payment's receipt is kept.",
  )
  expect(repayButtonLabel([2])).toBe('Pay again for step 2 and resume')
  expect(repayButtonLabel([2, 3])).toBe('Pay again for steps 2 and 3 and resume')
  expect(repayButtonLabel([2, 3, 4])).toBe('Pay again for steps 2, 3 and 4 and resume')
})

test('a 409 RepayConsentRequired names the steps to agree to; other errors are not consent requests', () => {
  expect(repayStepsAsked(new ApiError(409, 'RepayConsentRequired', 'm', { repay_steps: [2, 3] }))).toEqual([2, 3])
  expect(repayStepsAsked(new ApiError(409, 'RepayConsentRequired', 'm', { repay_steps: ['x', 0, 4] }))).toEqual([4])
  expect(repayStepsAsked(new ApiError(409, 'RepayConsentRequired', 'm'))).toEqual([])
  expect(repayStepsAsked(new ApiError(409, 'InvalidState', 'm', { repay_steps: [2] }))).toBeNull()
  expect(repayStepsAsked(new Error('x'))).toBeNull()
})
