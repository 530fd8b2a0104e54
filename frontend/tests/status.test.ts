import { describe, expect, test } from 'vitest'

import { stepStatusView, workflowStatusView, type PayPhase } from '../src/status'
import type { StepStatus, WorkflowStatus } from '../src/types'

describe('stepStatusView: the API status of a step', () => {
  const cases: [StepStatus, string, string][] = [
    ['pending', 'Pending', 'status status--pending status--idle'],
    ['awaiting_payment', 'Awaiting payment', 'status status--awaiting-payment status--active'],
    ['payment_submitted', 'Payment submitted', 'status status--payment-submitted status--active'],
    ['running', 'Running', 'status status--running status--active'],
    ['succeeded', 'Succeeded', 'status status--succeeded status--done'],
    ['failed', 'Failed', 'status status--failed status--bad'],
    ['payment_timeout', 'Payment timed out', 'status status--payment-timeout status--bad'],
    ['cancelled', 'Cancelled', 'status status--cancelled status--bad'],
  ]
  test.each(cases)('%s reads "%s"', (status, label, className) => {
    expect(stepStatusView(status)).toEqual({ key: status, label, className, detail: '' })
  })
})

describe('stepStatusView: the page paying for a step', () => {
  const phases: [PayPhase, string][] = [
    ['signing', 'Waiting for your wallet to sign…'],
    ['sending', 'Sending the payment to the network…'],
    ['confirming', 'Waiting for the network to confirm the payment…'],
    ['submitting', 'Handing the confirmed payment to the agent…'],
  ]
  test.each(phases)('while %s an awaiting-payment step reads "Paying"', (phase, detail) => {
    expect(stepStatusView('awaiting_payment', phase)).toEqual({
      key: 'paying',
      label: 'Paying',
      className: 'status status--paying status--active',
      detail,
    })
  })

  test.each<StepStatus>(['payment_submitted', 'running', 'succeeded', 'failed', 'payment_timeout', 'cancelled'])(
    'once the API says %s, its status wins over the local paying state',
    (status) => {
      const view = stepStatusView(status, 'submitting')
      expect(view.key).toBe(status)
      expect(view.detail).toBe('')
    },
  )
})

test('workflowStatusView labels and tones', () => {
  expect(workflowStatusView('planned')).toEqual({ label: 'Planned: review and approve', className: 'status status--planned status--idle' })
  expect(workflowStatusView('running')).toEqual({ label: 'Running', className: 'status status--running status--active' })
  expect(workflowStatusView('completed')).toEqual({ label: 'Completed', className: 'status status--completed status--done' })
  expect(workflowStatusView('failed').className).toBe('status status--failed status--bad')
  expect(workflowStatusView('cancelled').label).toBe('Cancelled')
})

test('a status the page does not know yet reads as it is, idle', () => {
  expect(stepStatusView('on_hold' as StepStatus)).toEqual({
    key: 'on_hold',
    label: 'on_hold',
    className: 'status status--on-hold status--idle',
    detail: '',
  })
  expect(workflowStatusView('paused' as WorkflowStatus)).toEqual({ label: 'paused', className: 'status status--paused status--idle' })
})
