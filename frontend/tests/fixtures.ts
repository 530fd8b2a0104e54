// Real unsigned groups built with algosdk, as an agent's /start_job offers them.
import algosdk from 'algosdk'

export const GENESIS_HASH = algosdk.base64ToBytes('SGO1GKSzyE7IEPItTxCByw9x8FmnrCDexi9/cOUJOiI=')
// Fixed accounts (seeds of 32 bytes 1, 2, 3…) so that tests read the same addresses every run.
export function account(seedByte: number): string {
  const seed = new Uint8Array(32).fill(seedByte)
  return algosdk.mnemonicToSecretKey(algosdk.mnemonicFromSeed(seed)).addr.toString()
}
export const PAYER = account(1)
export const AGENT = account(2)
export const STRANGER = account(3)
export const APP_ID = 1001

export interface GroupOptions {
  amount?: number
  fee?: number
  firstValid?: number
  lastValid?: number
  note?: Uint8Array
  sender?: string
  rekeyTo?: string
  closeRemainderTo?: string
}

export function paymentGroup(options: GroupOptions = {}): algosdk.Transaction[] {
  const suggestedParams: algosdk.SuggestedParams = {
    flatFee: true,
    fee: options.fee ?? 1000,
    minFee: 1000,
    firstValid: options.firstValid ?? 100,
    lastValid: options.lastValid ?? 1100,
    genesisHash: GENESIS_HASH,
    genesisID: 'testnet-v1.0',
  }
  const sender = options.sender ?? PAYER
  const note = options.note ?? new TextEncoder().encode('job 42')
  const pay = algosdk.makePaymentTxnWithSuggestedParamsFromObject({
    sender,
    receiver: AGENT,
    amount: options.amount ?? 500_000,
    note,
    suggestedParams,
    rekeyTo: options.rekeyTo,
    closeRemainderTo: options.closeRemainderTo,
  })
  const call = algosdk.makeApplicationNoOpTxnFromObject({
    sender,
    appIndex: APP_ID,
    appArgs: [algosdk.ABIMethod.fromSignature('pay(pay)void').getSelector()],
    note,
    suggestedParams,
  })
  return algosdk.assignGroupID([pay, call])
}

export function encode(txns: algosdk.Transaction[]): string[] {
  return txns.map((t) => algosdk.bytesToBase64(algosdk.encodeUnsignedTransaction(t)))
}
