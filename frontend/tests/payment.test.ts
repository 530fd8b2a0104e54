import algosdk from 'algosdk'
import { afterEach, describe, expect, test } from 'vitest'

import { ApiClient } from '../src/api'
import { AlreadyPaid, OfferExpired, PaymentError, isExpired, offerTxnIds, payOffer, prepareOffer, submitPaymentKey, type PaymentContext } from '../src/payment'
import type { StepView } from '../src/types'
import { PAYER, STRANGER, encode, paymentGroup } from './fixtures'
import { algodAt, serve, type Loopback } from './loopback'

const servers: Loopback[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

function step(blobs: string[], lastValid: number, txnIds: string[]): StepView {
  return {
    step_number: 1,
    agent_id: 'agent-1',
    agent_name: 'Agent',
    description: 'step 1',
    input_data: {},
    status: 'awaiting_payment',
    price_microalgo: 500_000,
    unsigned_group_txns: blobs,
    txn_ids: txnIds,
    last_valid_round: lastValid,
  }
}

async function context(round: number, freshStep?: StepView): Promise<{ ctx: PaymentContext; algod: Loopback; api: Loopback }> {
  const algod = await algodAt(round)
  const api = await serve(() => ({ json: freshStep ?? {} }))
  servers.push(algod, api)
  const ctx: PaymentContext = {
    api: new ApiClient(api.url, async () => 'token'),
    algod: new algosdk.Algodv2('', 'http://127.0.0.1', Number(new URL(algod.url).port)),
    workflowId: 'wf-1',
    walletAddress: PAYER,
  }
  return { ctx, algod, api }
}

test('a group is expired once its last valid round is not after the current round', () => {
  expect(isExpired(1100, 1099)).toBe(false)
  expect(isExpired(1100, 1100)).toBe(true)
  expect(isExpired(1100n, 1200n)).toBe(true)
})

test('the submit_payment key is the same for a repeat of the same payment', () => {
  expect(submitPaymentKey('wf-1', 2, ['TXA', 'TXB'])).toBe('pay-wf-1-2-TXA')
  expect(submitPaymentKey('wf-1', 2, ['TXC'])).not.toBe(submitPaymentKey('wf-1', 2, ['TXA']))
})

describe('prepareOffer', () => {
  test('a group still valid is offered as it is, without asking the agent again', async () => {
    const txns = paymentGroup({ lastValid: 1100 })
    const { ctx, api } = await context(1099)
    const offer = await prepareOffer(ctx, step(encode(txns), 1100, txns.map((t) => t.txID())))
    expect(offer.requoted).toBe(false)
    expect(offer.paidInRound).toBeNull()
    expect(offerTxnIds(offer)).toEqual(txns.map((t) => t.txID()))
    expect(offer.summary.warnings).toEqual([])
    expect(api.requests).toHaveLength(0)
  })

  test('an expired group is re-quoted through start_job first, and the fresh one is offered', async () => {
    const old = paymentGroup({ firstValid: 100, lastValid: 1100 })
    const fresh = paymentGroup({ firstValid: 1150, lastValid: 2150 })
    const freshIds = fresh.map((t) => t.txID())
    let requoted = 0
    const { ctx, api } = await context(1100, step(encode(fresh), 2150, freshIds))
    ctx.onRequote = () => requoted++
    const offer = await prepareOffer(ctx, step(encode(old), 1100, old.map((t) => t.txID())))
    expect(requoted).toBe(1)
    expect(api.requests.map((r) => [r.method, r.path, JSON.parse(r.body)])).toEqual([
      ['POST', '/api/workflows/step/start_job', { workflow_id: 'wf-1', step_number: 1 }],
    ])
    expect(offer.requoted).toBe(true)
    expect(offerTxnIds(offer)).toEqual(freshIds)
    expect(offer.summary.lastValid).toBe(2150n)
  })

  test('a re-quote that answers with the step already paid offers nothing to sign', async () => {
    // The earlier group was confirmed on chain after all: start_job answers with the step paid.
    const old = paymentGroup({ firstValid: 100, lastValid: 1100 })
    const oldIds = old.map((t) => t.txID())
    const receipt = { txn_ids: oldIds, confirmed_round: 1090, amount_microalgo: 500_000, receiver: 'AGENT' }
    for (const status of ['payment_submitted', 'running'] as const) {
      const paid: StepView = { ...step(encode(old), 1100, oldIds), status, receipt }
      const { ctx } = await context(1100, paid)
      const error = await prepareOffer(ctx, step(encode(old), 1100, oldIds)).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(AlreadyPaid)
      expect((error as AlreadyPaid).step.receipt).toEqual(receipt)
      expect((error as Error).message).toBe('Your earlier payment for step 1 is confirmed on chain and recorded; you do not pay again.')
    }
  })

  test('txids that do not match the transactions make the offer unsafe', async () => {
    const txns = paymentGroup()
    const { ctx } = await context(200)
    const offer = await prepareOffer(ctx, step(encode(txns), 1100, ['WRONG', 'IDS']))
    expect(offer.summary.warnings).toEqual(['The transaction ids the agent gave do not match the transactions.'])
  })
})

describe('payOffer refuses before the wallet is asked', () => {
  test('when the group expired since it was shown', async () => {
    const txns = paymentGroup({ lastValid: 1100 })
    const { ctx } = await context(1099)
    const offer = await prepareOffer(ctx, step(encode(txns), 1100, txns.map((t) => t.txID())))
    const later = await context(1100)
    let asked = 0
    const error = await payOffer({ ...later.ctx }, offer, async () => (asked++, [])).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(OfferExpired)
    expect(asked).toBe(0)
  })

  test('when the group carries a warning (here: another sender)', async () => {
    const txns = paymentGroup({ sender: STRANGER })
    const { ctx } = await context(200)
    const offer = await prepareOffer(ctx, step(encode(txns), 1100, txns.map((t) => t.txID())))
    let asked = 0
    await expect(payOffer(ctx, offer, async () => (asked++, []))).rejects.toThrow('This payment group is not safe to sign.')
    expect(asked).toBe(0)
  })

  test('a wallet that signs only part of the group: nothing is sent', async () => {
    const txns = paymentGroup()
    const { ctx, algod } = await context(200)
    const offer = await prepareOffer(ctx, step(encode(txns), 1100, txns.map((t) => t.txID())))
    const phases: string[] = []
    ctx.onPhase = (p) => phases.push(p)
    const error = await payOffer(ctx, offer, async () => [new Uint8Array([1]), null]).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PaymentError)
    expect((error as Error).message).toBe(`The wallet signed 1 of 2 transactions: connect the account ${PAYER}.`)
    expect(phases).toEqual(['signing'])
    expect(algod.requests.filter((r) => r.method === 'POST')).toHaveLength(0)
  })
})
