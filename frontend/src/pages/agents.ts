// /agents: the catalog's active agents (GET /api/agents), each with its price per job, what it does
// and the input it wants, so that a request can use the agents' own words.
//
// Test ids: agents-loading, agents-error, agents-retry, agents-empty, agents-list, agent-<i> (from 0;
// data-agent-id), agent-name-<i>, agent-price-<i>, agent-description-<i>, agent-tags-<i>,
// agent-input-<i>, agent-example-<i>.

import { errorLines } from '../api'
import { formatAlgo } from '../algo'
import { h, replaceChildren, show } from '../dom'
import type { AgentCard } from '../types'
import type { Page } from './context'

/** What to show of an agent's wanted input: its words, and an example when it has one. */
export function agentInputLines(agent: AgentCard): { wants: string; example: string } {
  const wants = (agent.data_input ?? '').trim()
  const example = (agent.example_input ?? '').trim()
  return { wants: wants || 'Plain text: say what you need in your own words.', example }
}

export function agentItem(agent: AgentCard, i: number): HTMLElement {
  const { wants, example } = agentInputLines(agent)
  const tags = agent.tags.filter((t) => t.trim() !== '')
  return h(
    'li',
    { class: 'card agent', testid: `agent-${i}`, 'data-agent-id': agent.id, 'aria-labelledby': `agent-heading-${i}` },
    h(
      'header',
      { class: 'step-header' },
      h('h2', { id: `agent-heading-${i}`, testid: `agent-name-${i}` }, agent.name),
      h('span', { class: 'price' }, h('strong', { testid: `agent-price-${i}` }, formatAlgo(agent.price_microalgo)), ' per job'),
    ),
    agent.description ? h('p', { testid: `agent-description-${i}` }, agent.description) : null,
    tags.length ? h('p', { class: 'muted', testid: `agent-tags-${i}` }, `Good at: ${tags.join(', ')}`) : null,
    h('h3', {}, 'What it wants'),
    h('p', { class: 'output', testid: `agent-input-${i}` }, wants),
    example ? [h('h3', {}, 'For example'), h('p', { class: 'quote', testid: `agent-example-${i}` }, example)] : null,
  )
}

export const agentsPage: Page = (root, ctx) => {
  let disposed = false
  const loading = h('p', { testid: 'agents-loading', 'aria-live': 'polite' }, 'Loading the agents…')
  const error = h('div', { class: 'error', role: 'alert', testid: 'agents-error' })
  const retry = h('button', { type: 'button', class: 'button button--secondary', testid: 'agents-retry' }, 'Try again')
  const empty = h('p', { testid: 'agents-empty' }, 'No agent is in the catalog yet, so nothing can be planned. ')
  const list = h('ul', { class: 'steps', testid: 'agents-list', 'aria-label': 'Agents' })
  show(retry, false)
  show(empty, false)

  const load = async (): Promise<void> => {
    show(loading, true)
    show(retry, false)
    replaceChildren(error)
    try {
      const agents = await ctx.api.listAgents()
      if (disposed) return
      replaceChildren(list, agents.map((agent, i) => agentItem(agent, i)))
      show(empty, agents.length === 0)
    } catch (err) {
      if (disposed) return
      replaceChildren(error, errorLines(err))
      show(retry, true)
    } finally {
      if (!disposed) show(loading, false)
    }
  }
  retry.addEventListener('click', () => void load())

  root.replaceChildren(
    h('p', { class: 'breadcrumb' }, h('a', { href: '/orchestrator', testid: 'new-request-link' }, 'New request')),
    h('h1', { tabindex: -1, testid: 'page-title' }, 'Agents'),
    h(
      'p',
      { class: 'lead' },
      'The agents the planner can pick for your request, with the price of one job (network fees come on top, a few thousandths of an ALGO per step). Asking with the words an agent uses for its input helps the planner choose it.',
    ),
    loading,
    error,
    retry,
    empty,
    list,
  )
  void load()
  return () => {
    disposed = true
  }
}
