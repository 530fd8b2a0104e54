import { afterEach, describe, expect, test } from 'vitest'

import { ApiClient, ApiError, NetworkError, NotSignedIn, describeError, errorFromResponse, errorText } from '../src/api'
import { serve, type Loopback } from './loopback'

let server: Loopback | null = null
afterEach(async () => {
  await server?.close()
  server = null
})

describe('ApiClient against a loopback server', () => {
  test('every call sends the bearer token; create and start send an Idempotency-Key', async () => {
    server = await serve((r) => ({ status: r.method === 'POST' ? 201 : 200, json: { workflow_id: 'wf-1', path: r.path } }))
    const api = new ApiClient(server.url, async () => 'token-abc')
    await api.createWorkflow({ userMessage: 'hello', walletAddress: 'ADDR' }, 'key-1')
    await api.getWorkflow('wf/1')
    await api.start('wf-1', 'key-2')
    await api.submitPayment('wf-1', 2, ['T1', 'T2'], 'key-3')
    const [create, get, start, submit] = server.requests
    for (const r of server.requests) expect(r.headers.authorization).toBe('Bearer token-abc')
    expect([create.method, create.path, create.headers['idempotency-key']]).toEqual(['POST', '/api/workflows/create', 'key-1'])
    expect(JSON.parse(create.body)).toEqual({ user_message: 'hello', wallet_address: 'ADDR' })
    expect([get.method, get.path, get.headers['idempotency-key']]).toEqual(['GET', '/api/workflows/wf%2F1', undefined])
    expect([start.path, start.headers['idempotency-key'], JSON.parse(start.body)]).toEqual([
      '/api/workflows/start',
      'key-2',
      { workflow_id: 'wf-1' },
    ])
    expect([submit.path, submit.headers['idempotency-key'], JSON.parse(submit.body)]).toEqual([
      '/api/workflows/step/submit_payment',
      'key-3',
      { workflow_id: 'wf-1', step_number: 2, txn_ids: ['T1', 'T2'] },
    ])
  })

  test("the API's error envelope becomes an ApiError with its code and message", async () => {
    server = await serve(() => ({ status: 409, json: { error: { code: 'InvalidState', message: 'Only a planned workflow can be approved.' } } }))
    const api = new ApiClient(server.url, async () => 'token')
    const error = await api.approve('wf-1').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect([(error as ApiError).status, (error as ApiError).code, (error as ApiError).message]).toEqual([
      409,
      'InvalidState',
      'Only a planned workflow can be approved.',
    ])
  })

  test('resume sends repay_steps only with the consent, and a 409 RepayConsentRequired keeps its details', async () => {
    let calls = 0
    server = await serve(() =>
      calls++ === 0
        ? { status: 409, json: { error: { code: 'RepayConsentRequired', message: 'Pay again?', details: { repay_steps: [2] } } } }
        : { status: 202, json: { workflow_id: 'wf-1' } },
    )
    const api = new ApiClient(server.url, async () => 'token')
    const refused = await api.start('wf-1', 'key-1').catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ApiError)
    expect([(refused as ApiError).status, (refused as ApiError).code, (refused as ApiError).details]).toEqual([
      409,
      'RepayConsentRequired',
      { repay_steps: [2] },
    ])
    await api.start('wf-1', 'key-2', [2])
    await api.start('wf-1', 'key-3', [])
    expect(server.requests.map((r) => JSON.parse(r.body))).toEqual([
      { workflow_id: 'wf-1' },
      { workflow_id: 'wf-1', repay_steps: [2] },
      { workflow_id: 'wf-1' },
    ])
  })

  test('a long poll sends wait and If-None-Match, and reads the ETag; 304 is "no new version"', async () => {
    server = await serve((r) =>
      r.headers['if-none-match'] === '"v1"'
        ? { status: 304, headers: { ETag: '"v1"' } }
        : { json: { workflow_id: 'wf-1' }, headers: { ETag: '"v1"' } },
    )
    const api = new ApiClient(server.url, async () => 'token')
    expect(await api.getWorkflowVersion('wf-1')).toEqual({ workflow: { workflow_id: 'wf-1' }, etag: '"v1"' })
    expect(await api.getWorkflowVersion('wf-1', { etag: '"v1"', waitSeconds: 20 })).toEqual({ workflow: null, etag: '"v1"' })
    const [plain, held] = server.requests
    expect([plain.path, plain.headers['if-none-match']]).toEqual(['/api/workflows/wf-1', undefined])
    expect([held.path, held.headers['if-none-match']]).toEqual(['/api/workflows/wf-1?wait=20', '"v1"'])
  })

  test('a long poll cut short rejects with the abort, not as a network error; errors stay ApiErrors', async () => {
    let release = (): void => {}
    server = await serve((r) =>
      r.headers['if-none-match']
        ? new Promise((resolve) => (release = () => resolve({ status: 404, json: { error: { code: 'NotFound', message: 'gone' } } })))
        : { status: 404, json: { error: { code: 'NotFound', message: 'gone' } } },
    )
    const api = new ApiClient(server.url, async () => 'token')
    const controller = new AbortController()
    const held = api.getWorkflowVersion('wf-1', { etag: '"v1"', waitSeconds: 20, signal: controller.signal }).catch((e: unknown) => e)
    await new Promise((r) => setTimeout(r, 50))
    controller.abort()
    const cut = await held
    expect(cut).not.toBeInstanceOf(NetworkError)
    expect((cut as Error).name).toBe('AbortError')
    release()
    const missing = await api.getWorkflowVersion('wf-1').catch((e: unknown) => e)
    expect([(missing as ApiError).status, (missing as ApiError).code]).toEqual([404, 'NotFound'])
  })

  test('no token: nothing is sent', async () => {
    server = await serve(() => ({ json: {} }))
    const api = new ApiClient(server.url, async () => null)
    await expect(api.getWorkflow('wf-1')).rejects.toBeInstanceOf(NotSignedIn)
    expect(server.requests).toHaveLength(0)
  })

  test('an API that does not answer is a NetworkError', async () => {
    server = await serve(() => ({ json: {} }))
    const url = server.url
    await server.close()
    server = null
    await expect(new ApiClient(url, async () => 'token').getWorkflow('wf-1')).rejects.toBeInstanceOf(NetworkError)
  })
})

describe('errors in words', () => {
  test("API Gateway's bare 401 gets the sign-in hint", () => {
    const error = errorFromResponse(401, { message: 'Unauthorized' })
    expect([error.code, error.message]).toEqual(['Unauthorized', 'Unauthorized'])
    expect(describeError(error)).toEqual({
      message: 'Unauthorized',
      hint: 'Your sign-in has expired or is not valid. Sign in again (on the local stack: reload the page).',
    })
  })

  test('network failures get the connection hint; domain errors are their message alone', () => {
    expect(describeError(new NetworkError()).hint).toBe(
      'Check your connection (on the local stack: is orch up still running?) and try again.',
    )
    expect(describeError(new ApiError(422, 'PlanInvalid', 'No agent fits.'))).toEqual({ message: 'No agent fits.' })
    expect(describeError(errorFromResponse(502, null))).toEqual({
      message: 'The API answered 502.',
      hint: 'The service had a problem. Try again in a moment.',
    })
  })

  test('errorText: the message, then the hint when there is one', () => {
    expect(errorText(new NotSignedIn())).toBe(
      'You are not signed in. Sign in and try again. On the local stack, reload the page: orch up hands out a dev token.',
    )
    expect(errorText(new ApiError(422, 'PlanInvalid', 'No agent fits.'))).toBe('No agent fits.')
    expect(errorText(new Error('boom'))).toBe('boom')
    expect(errorText('plain')).toBe('plain')
  })
})
