// /orchestrator: the request, the wallet, submit → /workflow/<id>.
//
// Test ids: request-form, request-input, create-submit, create-status, create-error (+ the wallet
// panel's, see wallet.ts).

import { errorLines, newIdempotencyKey } from '../api'
import { h, setText } from '../dom'
import { walletPanel } from '../wallet'
import type { Page } from './context'

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
  const submit = h('button', { type: 'submit', testid: 'create-submit', class: 'button button--primary' }, 'Plan my workflow')
  const status = h('p', { testid: 'create-status', class: 'muted', 'aria-live': 'polite' })
  const error = h('div', { testid: 'create-error', class: 'error', role: 'alert' })
  const panel = walletPanel(ctx.wallets, () => renderHint())
  const hint = h('p', { testid: 'create-wallet-hint', class: 'muted' })
  let busy = false
  // One key per request text: a double click or a retry after a lost answer plans once.
  let pending: { text: string; key: string } | null = null

  const renderHint = (): void => {
    setText(hint, ctx.wallets.activeAddress ? '' : 'Connect a wallet first: the workflow pays its agents from it.')
  }

  const form = h(
    'form',
    { testid: 'request-form', class: 'card', novalidate: true, 'aria-labelledby': 'request-heading' },
    h('h2', { id: 'request-heading' }, 'Your request'),
    h('div', { class: 'field' },
      h('label', { for: 'request-input' }, 'What do you need?'),
      h('p', { id: 'request-help', class: 'muted' }, 'Say it in plain words. The planner picks agents from the catalog and shows you the plan and its price before anything is paid.'),
      input,
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
    setText(error, '')
    if (!text) {
      setText(error, 'Type a request first.')
      input.focus()
      return
    }
    if (!address) {
      setText(error, 'Connect a wallet first: the workflow pays its agents from it.')
      return
    }
    if (!pending || pending.text !== `${address}\n${text}`) pending = { text: `${address}\n${text}`, key: newIdempotencyKey() }
    busy = true
    submit.setAttribute('disabled', '')
    setText(status, 'Planning your workflow…')
    try {
      const workflow = await ctx.api.createWorkflow({ userMessage: text, walletAddress: address }, pending.key)
      setText(status, 'Planned. Opening the workflow…')
      ctx.navigate(`/workflow/${encodeURIComponent(workflow.workflow_id)}`)
    } catch (err) {
      error.replaceChildren(...errorLines(err))
      setText(status, '')
      busy = false
      submit.removeAttribute('disabled')
    }
  })

  root.replaceChildren(
    h('h1', { tabindex: -1, testid: 'page-title' }, 'Agent orchestrator'),
    h('p', { class: 'lead' }, 'Describe what you need; agents from the marketplace do it step by step, and you approve and pay each one from your wallet.'),
    panel.element,
    form,
  )
  renderHint()
  return () => panel.dispose()
}
