// The HTTP API client. Every call sends `Authorization: Bearer <token>` from auth.ts; errors become
// ApiError (the API's `{"error": {"code", "message"}}`) or NetworkError (no answer at all).

import { getAccessToken } from './auth'
import { h } from './dom'
import type { AgentCard, FundsView, StepView, WorkflowList, WorkflowView } from './types'

export class ApiError extends Error {
  readonly status: number
  readonly code: string
  /** The envelope's `details` when it has them (e.g. RepayConsentRequired's `repay_steps`). */
  readonly details: unknown

  constructor(status: number, code: string, message: string, details: unknown = undefined) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.details = details
  }
}

export class NetworkError extends Error {
  constructor(message = 'The orchestrator API cannot be reached.') {
    super(message)
    this.name = 'NetworkError'
  }
}

const NOT_SIGNED_IN = 'You are not signed in.'

export class NotSignedIn extends Error {
  constructor() {
    super(NOT_SIGNED_IN)
    this.name = 'NotSignedIn'
  }
}

/** A fresh key for the Idempotency-Key header (printable ASCII, at most 255 characters). */
export function newIdempotencyKey(): string {
  const cryptoApi = globalThis.crypto
  if (cryptoApi && typeof cryptoApi.randomUUID === 'function') return cryptoApi.randomUUID()
  const bytes = new Uint8Array(16)
  cryptoApi.getRandomValues(bytes)
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Turns an error answer into an ApiError: the API's envelope, API Gateway's 401, or anything else. */
export function errorFromResponse(status: number, body: unknown): ApiError {
  if (typeof body === 'object' && body !== null) {
    const envelope = (body as { error?: unknown }).error
    if (typeof envelope === 'object' && envelope !== null) {
      const { code, message, details } = envelope as { code?: unknown; message?: unknown; details?: unknown }
      return new ApiError(
        status,
        typeof code === 'string' ? code : 'Error',
        typeof message === 'string' ? message : `The API answered ${status}.`,
        details,
      )
    }
    // API Gateway's JWT authorizer answers 401 {"message":"Unauthorized"} without an envelope.
    const message = (body as { message?: unknown }).message
    if (typeof message === 'string') {
      return new ApiError(status, status === 401 ? 'Unauthorized' : 'Error', message)
    }
  }
  return new ApiError(status, status === 401 ? 'Unauthorized' : 'Error', `The API answered ${status}.`)
}

/** What to tell the person about an error: the API's own message plus a friendly line where it helps. */
export function describeError(error: unknown): { message: string; hint?: string } {
  if (error instanceof NotSignedIn) {
    return {
      message: NOT_SIGNED_IN,
      hint: 'Sign in and try again. On the local stack, reload the page: orch up hands out a dev token.',
    }
  }
  if (error instanceof ApiError) {
    if (error.status === 401) {
      return {
        message: error.message,
        hint: 'Your sign-in has expired or is not valid. Sign in again (on the local stack: reload the page).',
      }
    }
    if (error.status === 403) {
      return { message: error.message, hint: 'This account may not do that.' }
    }
    if (error.status >= 500) {
      return { message: error.message, hint: 'The service had a problem. Try again in a moment.' }
    }
    return { message: error.message }
  }
  if (error instanceof NetworkError) {
    return {
      message: error.message,
      hint: 'Check your connection (on the local stack: is orch up still running?) and try again.',
    }
  }
  if (error instanceof Error) return { message: error.message }
  return { message: String(error) }
}

/** describeError on one line: the message, then the hint if there is one. */
export function errorText(error: unknown): string {
  const { message, hint } = describeError(error)
  return hint ? `${message} ${hint}` : message
}

/** describeError as paragraphs: the message, then the hint if there is one. */
export function errorLines(error: unknown): HTMLElement[] {
  const { message, hint } = describeError(error)
  return hint ? [h('p', {}, message), h('p', {}, hint)] : [h('p', {}, message)]
}

export interface CreateWorkflowInput {
  userMessage: string
  walletAddress: string
  budgetMicroalgo?: number
}

/** A workflow as GET /api/workflows/{id} answered it: its view, or null when the API answered 304
 * (the version named in If-None-Match is still the current one), and the version's ETag. */
export interface WorkflowVersion {
  workflow: WorkflowView | null
  etag: string | null
}

export interface WatchOptions {
  /** The ETag of the version the page has: sent as If-None-Match. */
  etag?: string | null
  /** Seconds the API may hold the request until the version changes (a long poll; 0 to 20). */
  waitSeconds?: number
  signal?: AbortSignal
}

export class ApiClient {
  constructor(
    private readonly baseUrl: string,
    private readonly tokenSource: () => Promise<string | null> = getAccessToken,
  ) {}

  async request<T>(method: 'GET' | 'POST', path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
    const headers: Record<string, string> = {}
    if (idempotencyKey) headers['Idempotency-Key'] = idempotencyKey
    const { response, data } = await this.send(method, path, body, headers)
    if (!response.ok) throw errorFromResponse(response.status, data)
    return data as T
  }

  /** Sends one request; the answer and its JSON body (null when it has none). An aborted request
   * rejects with the abort's error, not a NetworkError. */
  private async send(
    method: 'GET' | 'POST',
    path: string,
    body: unknown,
    extraHeaders: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<{ response: Response; data: unknown }> {
    const token = await this.tokenSource()
    if (!token) throw new NotSignedIn()
    const headers: Record<string, string> = {
      Accept: 'application/json',
      Authorization: `Bearer ${token}`,
      ...extraHeaders,
    }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    let response: Response
    try {
      response = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store',
        signal,
      })
    } catch (err) {
      if (signal?.aborted) throw err
      throw new NetworkError()
    }
    let data: unknown = null
    const text = await response.text().catch(() => '')
    if (text) {
      try {
        data = JSON.parse(text)
      } catch {
        data = null
      }
    }
    return { response, data }
  }

  createWorkflow(input: CreateWorkflowInput, idempotencyKey: string): Promise<WorkflowView> {
    const body: Record<string, unknown> = {
      user_message: input.userMessage,
      wallet_address: input.walletAddress,
    }
    if (input.budgetMicroalgo !== undefined) body.budget_microalgo = input.budgetMicroalgo
    return this.request('POST', '/api/workflows/create', body, idempotencyKey)
  }

  getWorkflow(workflowId: string): Promise<WorkflowView> {
    return this.request('GET', `/api/workflows/${encodeURIComponent(workflowId)}`)
  }

  /** The workflow and its version. With `etag` and `waitSeconds`, a long poll: the API answers as
   * soon as the workflow differs from that version, or 304 (`workflow` null) after that long. */
  async getWorkflowVersion(workflowId: string, options: WatchOptions = {}): Promise<WorkflowVersion> {
    const wait = Math.max(0, Math.round(options.waitSeconds ?? 0))
    const path = `/api/workflows/${encodeURIComponent(workflowId)}${wait ? `?wait=${wait}` : ''}`
    const headers: Record<string, string> = options.etag ? { 'If-None-Match': options.etag } : {}
    const { response, data } = await this.send('GET', path, undefined, headers, options.signal)
    const etag = response.headers.get('ETag')
    if (response.status === 304) return { workflow: null, etag: etag ?? options.etag ?? null }
    if (!response.ok) throw errorFromResponse(response.status, data)
    return { workflow: data as WorkflowView, etag }
  }

  /** The wallet's balance against the plan's price with network fees (GET /api/workflows/{id}/funds). */
  getFunds(workflowId: string): Promise<FundsView> {
    return this.request('GET', `/api/workflows/${encodeURIComponent(workflowId)}/funds`)
  }

  /** The catalog's active agents, sorted by name (GET /api/agents). */
  async listAgents(): Promise<AgentCard[]> {
    const answer = await this.request<{ agents?: AgentCard[] }>('GET', '/api/agents')
    return answer.agents ?? []
  }

  /** A page of the caller's workflows, newest first; `cursor` is the previous page's next_cursor. */
  listWorkflows(options: { limit?: number; cursor?: string | null } = {}): Promise<WorkflowList> {
    const query = new URLSearchParams()
    if (options.limit !== undefined) query.set('limit', String(options.limit))
    if (options.cursor) query.set('cursor', options.cursor)
    const qs = query.toString()
    return this.request('GET', `/api/workflows${qs ? `?${qs}` : ''}`)
  }

  approve(workflowId: string): Promise<WorkflowView> {
    return this.request('POST', '/api/workflows/approve', { workflow_id: workflowId })
  }

  /** Starts an approved workflow, or resumes a failed or cancelled one. `repaySteps`: steps whose
   * paid job the agent could not deliver and that the person agreed to pay for again (sent only
   * when given; without it such a resume is answered 409 RepayConsentRequired). */
  start(workflowId: string, idempotencyKey: string, repaySteps?: readonly number[]): Promise<WorkflowView> {
    const body: Record<string, unknown> = { workflow_id: workflowId }
    if (repaySteps && repaySteps.length) body.repay_steps = [...repaySteps]
    return this.request('POST', '/api/workflows/start', body, idempotencyKey)
  }

  cancel(workflowId: string): Promise<WorkflowView> {
    return this.request('POST', '/api/workflows/cancel', { workflow_id: workflowId })
  }

  /** Re-quotes a step whose offered group expired (the step as it is now). */
  startJob(workflowId: string, stepNumber: number): Promise<StepView> {
    return this.request('POST', '/api/workflows/step/start_job', {
      workflow_id: workflowId,
      step_number: stepNumber,
    })
  }

  submitPayment(workflowId: string, stepNumber: number, txnIds: string[], idempotencyKey: string): Promise<StepView> {
    return this.request(
      'POST',
      '/api/workflows/step/submit_payment',
      { workflow_id: workflowId, step_number: stepNumber, txn_ids: txnIds },
      idempotencyKey,
    )
  }
}
