// /workflows: the person's workflows, newest first (GET /api/workflows), a page at a time ("Load
// more" asks for the next with the answer's next_cursor); each links to /workflow/<id>.
//
// Test ids: workflows-loading, workflows-error, workflows-retry, workflows-empty, workflows-list,
// workflow-row-<i> (from 0, in the order shown; data-workflow-id, data-status), workflow-link-<i>,
// workflow-status-<i>, workflow-cost-<i>, workflow-progress-<i>, workflow-when-<i>, workflows-more,
// workflows-count.

import { errorLines } from '../api'
import { formatAlgo } from '../algo'
import { h, replaceChildren, setText, show } from '../dom'
import { workflowStatusView } from '../status'
import type { WorkflowList, WorkflowSummary } from '../types'
import type { Page } from './context'

/** How many workflows one "Load more" asks for. */
export const HISTORY_PAGE_SIZE = 20
const REQUEST_CHARS = 140

/** The list after one more page: the page's workflows appended, any already shown left out. */
export function mergePage(shown: readonly WorkflowSummary[], page: WorkflowList): WorkflowSummary[] {
  const seen = new Set(shown.map((w) => w.workflow_id))
  return [...shown, ...page.workflows.filter((w) => !seen.has(w.workflow_id))]
}

/** The request on one line, cut at REQUEST_CHARS characters. */
export function shortRequest(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim()
  return line.length > REQUEST_CHARS ? `${line.slice(0, REQUEST_CHARS - 1).trimEnd()}…` : line
}

/** Where the workflow is, in words: "2 steps", "step 1 of 2", "stopped at step 2 of 3". */
export function summaryProgress(w: WorkflowSummary): string {
  const steps = `${w.step_count} step${w.step_count === 1 ? '' : 's'}`
  switch (w.status) {
    case 'planned':
      return `${steps}, not approved yet`
    case 'approved':
      return `${steps}, approved, not started`
    case 'running':
      return w.current_step > 0 ? `at step ${w.current_step} of ${w.step_count}` : steps
    case 'completed':
      return `${steps}, all done`
    case 'failed':
    case 'cancelled':
      return w.current_step > 0 ? `stopped at step ${w.current_step} of ${w.step_count}` : steps
    default:
      return steps
  }
}

/** When, for people: "just now", "5 min ago", "3 h ago", else the date and time. */
export function formatWhen(iso: string, now: Date = new Date()): string {
  const at = new Date(iso)
  if (Number.isNaN(at.getTime())) return iso
  const seconds = Math.round((now.getTime() - at.getTime()) / 1000)
  if (seconds >= 0 && seconds < 60) return 'just now'
  if (seconds >= 0 && seconds < 3600) return `${Math.floor(seconds / 60)} min ago`
  if (seconds >= 0 && seconds < 86_400) return `${Math.floor(seconds / 3600)} h ago`
  return at.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' })
}

export function workflowRow(w: WorkflowSummary, i: number, now: Date = new Date()): HTMLElement {
  const view = workflowStatusView(w.status)
  return h(
    'li',
    { class: 'card history-row', testid: `workflow-row-${i}`, 'data-workflow-id': w.workflow_id, 'data-status': w.status },
    h(
      'div',
      { class: 'step-header' },
      h('a', { href: `/workflow/${encodeURIComponent(w.workflow_id)}`, testid: `workflow-link-${i}`, title: w.user_message }, shortRequest(w.user_message) || w.workflow_id),
      h('span', { class: view.className, testid: `workflow-status-${i}`, 'data-status': w.status }, view.label),
    ),
    h(
      'p',
      { class: 'muted' },
      h('span', { testid: `workflow-when-${i}`, title: w.created_at }, formatWhen(w.created_at, now)),
      ' · ',
      h('span', { testid: `workflow-progress-${i}` }, summaryProgress(w)),
      ' · ',
      h('span', { testid: `workflow-cost-${i}` }, formatAlgo(w.total_cost_microalgo)),
    ),
  )
}

export const historyPage: Page = (root, ctx) => {
  let disposed = false
  let shown: WorkflowSummary[] = []
  let cursor: string | null = null
  let busy = false
  const loading = h('p', { testid: 'workflows-loading', 'aria-live': 'polite' }, 'Loading your workflows…')
  const error = h('div', { class: 'error', role: 'alert', testid: 'workflows-error' })
  const retry = h('button', { type: 'button', class: 'button button--secondary', testid: 'workflows-retry' }, 'Try again')
  const empty = h(
    'p',
    { testid: 'workflows-empty' },
    'You have no workflows yet. ',
    h('a', { href: '/orchestrator' }, 'Make a request'),
    '.',
  )
  const list = h('ol', { class: 'steps', testid: 'workflows-list', 'aria-label': 'Your workflows, newest first' })
  const count = h('p', { class: 'muted', testid: 'workflows-count', 'aria-live': 'polite' })
  const more = h('button', { type: 'button', class: 'button button--secondary', testid: 'workflows-more' }, 'Load more') as HTMLButtonElement
  for (const element of [retry, empty, more]) show(element, false)

  const load = async (): Promise<void> => {
    if (busy) return
    busy = true
    more.disabled = true
    show(retry, false)
    replaceChildren(error)
    if (shown.length) setText(more, 'Loading…')
    try {
      const page = await ctx.api.listWorkflows({ limit: HISTORY_PAGE_SIZE, cursor })
      if (disposed) return
      const before = shown.length
      shown = mergePage(shown, page)
      cursor = page.next_cursor
      const now = new Date()
      for (let i = before; i < shown.length; i++) list.appendChild(workflowRow(shown[i], i, now))
      show(empty, shown.length === 0)
      setText(count, shown.length ? `Showing ${shown.length} workflow${shown.length === 1 ? '' : 's'}${cursor ? '; there are more.' : '.'}` : '')
      if (before > 0) list.querySelector<HTMLElement>(`[data-testid="workflow-link-${before}"]`)?.focus()
    } catch (err) {
      if (disposed) return
      replaceChildren(error, errorLines(err))
      show(retry, true)
    } finally {
      if (!disposed) {
        busy = false
        show(loading, false)
        more.disabled = false
        setText(more, 'Load more')
        show(more, cursor !== null && error.childElementCount === 0)
      }
    }
  }
  more.addEventListener('click', () => void load())
  retry.addEventListener('click', () => void load())

  root.replaceChildren(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/orchestrator', testid: 'new-request-link' }, 'New request')),
    h('h1', { tabindex: -1, testid: 'page-title' }, 'Your workflows'),
    h('p', { class: 'lead' }, 'Newest first. Open one to see its plan, pay its next step, or resume it.'),
    loading,
    error,
    retry,
    empty,
    list,
    count,
    h('div', { class: 'actions' }, more),
  )
  void load()
  return () => {
    disposed = true
  }
}
