// Start-up: runtime config → auth → API client → wallets → the page for the current URL.
// A tiny client router: /orchestrator, /workflow/<id>, /agents and /workflows (the server answers
// each with index.html, so a reload works); links inside the site navigate without a reload, keeping
// the wallet session.

import './styles.css'

import { ApiClient, errorText } from './api'
import { configureAuth } from './auth'
import { loadConfig } from './config'
import { h } from './dom'
import { agentsPage } from './pages/agents'
import type { Page, PageContext } from './pages/context'
import { historyPage } from './pages/history'
import { orchestratorPage } from './pages/orchestrator'
import { workflowIdFromPath, workflowPage } from './pages/workflow'
import { createWalletManager } from './wallet'

const root = document.getElementById('main') as HTMLElement
let dispose: (() => void) | null = null

function notFound(container: HTMLElement): () => void {
  container.replaceChildren(
    h('h1', { tabindex: -1, testid: 'page-title' }, 'Page not found'),
    h('p', { testid: 'not-found' }, 'There is no page here. ', h('a', { href: '/orchestrator' }, 'Make a new request'), '.'),
  )
  return () => {}
}

/** The page at `path` and its document title, or null when none of ours is there. */
function pageFor(path: string): { title: string; page: Page } | null {
  if (path === '/orchestrator' || path === '/orchestrator/') {
    return { title: 'New request · Agent orchestrator', page: orchestratorPage }
  }
  if (path === '/agents' || path === '/agents/') return { title: 'Agents · Agent orchestrator', page: agentsPage }
  if (path === '/workflows' || path === '/workflows/') {
    return { title: 'Your workflows · Agent orchestrator', page: historyPage }
  }
  const workflowId = workflowIdFromPath(path)
  if (workflowId !== null) return { title: 'Workflow · Agent orchestrator', page: workflowPage(workflowId) }
  return null
}

/** The site header's link to the page shown gets aria-current="page". */
function markCurrentLink(path: string): void {
  const here = path.replace(/\/+$/, '') || '/'
  for (const link of document.querySelectorAll<HTMLAnchorElement>('.site-nav a')) {
    if (new URL(link.href, window.location.href).pathname === here) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
}

function route(ctx: PageContext): void {
  dispose?.()
  dispose = null
  const path = window.location.pathname
  if (path === '/' || path === '/index.html') {
    window.history.replaceState(null, '', '/orchestrator')
    route(ctx)
    return
  }
  const found = pageFor(path)
  markCurrentLink(path)
  if (found) {
    document.title = found.title
    dispose = found.page(root, ctx)
  } else {
    document.title = 'Not found · Agent orchestrator'
    dispose = notFound(root)
  }
  root.querySelector<HTMLElement>('h1')?.focus()
}

async function start(): Promise<void> {
  let config
  try {
    config = await loadConfig()
  } catch (err) {
    root.replaceChildren(
      h('h1', { tabindex: -1 }, 'The page cannot start'),
      h('p', { class: 'error', role: 'alert', testid: 'config-error' }, errorText(err)),
    )
    return
  }
  configureAuth(config)
  const wallets = createWalletManager(config)
  const badge = document.querySelector<HTMLElement>('[data-testid="network-badge"]')
  if (badge) {
    badge.textContent = config.network === 'localnet' ? 'local stack' : config.network
    badge.hidden = false
  }
  const ctx: PageContext = {
    config,
    api: new ApiClient(config.apiBaseUrl),
    wallets,
    navigate(path: string) {
      window.history.pushState(null, '', path)
      route(ctx)
    },
  }
  // Links to our own pages navigate in place (the mnemonic wallet lives in memory only).
  document.addEventListener('click', (event) => {
    const link = (event.target as Element | null)?.closest?.('a')
    if (!link || event.defaultPrevented || event.button !== 0) return
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey || link.target) return
    const url = new URL(link.href, window.location.href)
    if (url.origin !== window.location.origin) return
    if (pageFor(url.pathname)) {
      event.preventDefault()
      ctx.navigate(url.pathname)
    }
  })
  window.addEventListener('popstate', () => route(ctx))
  wallets.resumeSessions().catch(() => {
    // A wallet session that cannot be resumed just shows "No wallet connected".
  })
  route(ctx)
}

void start()
