// Wallets through use-wallet (framework-agnostic core, v4): Pera, Defly and Lute on TestNet and
// MainNet; its mnemonic wallet on the local stack (it asks for a 25-word mnemonic with
// window.prompt: use a dev account that `orch up` prints, never a real one).

import { NetworkConfigBuilder, NetworkId, WalletId, WalletManager, type SupportedWallet } from '@txnlab/use-wallet'
import type algosdk from 'algosdk'

import { shorten } from './algo'
import { errorText } from './api'
import type { RuntimeConfig } from './config'
import { h, replaceChildren, setText, show } from './dom'

function walletsFor(network: RuntimeConfig['network']): SupportedWallet[] {
  if (network === 'localnet') return [WalletId.MNEMONIC]
  return [WalletId.PERA, WalletId.DEFLY, { id: WalletId.LUTE, options: { siteName: 'Agent orchestrator' } }]
}

export function createWalletManager(config: RuntimeConfig): WalletManager {
  const { algod } = config
  const builder = new NetworkConfigBuilder()
  if (config.network === 'localnet') builder.localnet({ algod, isTestnet: true })
  else if (config.network === 'testnet') builder.testnet({ algod })
  else builder.mainnet({ algod })
  const networkId = { localnet: NetworkId.LOCALNET, testnet: NetworkId.TESTNET, mainnet: NetworkId.MAINNET }[config.network]
  return new WalletManager({
    wallets: walletsFor(config.network),
    networks: builder.build(),
    defaultNetwork: networkId,
    // config.json decides the network, not what an earlier visit left in localStorage.
    options: { resetNetwork: true },
  })
}

/** The algod client of the configured network (the same one the wallets use). */
export function algodOf(manager: WalletManager): algosdk.Algodv2 {
  return manager.algodClient
}

export interface WalletPanel {
  element: HTMLElement
  dispose(): void
}

/** Select a wallet, connect, show the address; disconnect. `onChange` runs when the address changes.
 * Test ids: wallet-select, wallet-connect, wallet-disconnect, wallet-account-select, wallet-address,
 * wallet-status, wallet-error. */
export function walletPanel(manager: WalletManager, onChange: (address: string | null) => void = () => {}): WalletPanel {
  const select = h('select', { id: 'wallet-select', testid: 'wallet-select' }) as HTMLSelectElement
  for (const wallet of manager.wallets) {
    select.appendChild(h('option', { value: wallet.walletKey }, wallet.metadata.name))
  }
  const connect = h('button', { type: 'button', testid: 'wallet-connect', class: 'button' }, 'Connect wallet')
  const disconnect = h('button', { type: 'button', testid: 'wallet-disconnect', class: 'button button--secondary' }, 'Disconnect')
  const accountSelect = h('select', { id: 'wallet-account-select', testid: 'wallet-account-select' }) as HTMLSelectElement
  const accountLabel = h('label', { for: 'wallet-account-select' }, 'Account')
  const accountRow = h('div', { class: 'field' }, accountLabel, accountSelect)
  const address = h('output', { testid: 'wallet-address', class: 'mono address', for: 'wallet-select' })
  const status = h('p', { testid: 'wallet-status', class: 'wallet-status', 'aria-live': 'polite' })
  const error = h('p', { testid: 'wallet-error', class: 'error', role: 'alert' })
  const chooser = h('div', { class: 'field' }, h('label', { for: 'wallet-select' }, 'Choose a wallet'), select)
  const element = h(
    'section',
    { class: 'wallet card', 'aria-labelledby': 'wallet-heading', testid: 'wallet-panel' },
    h('h2', { id: 'wallet-heading' }, 'Wallet'),
    chooser,
    h('div', { class: 'actions' }, connect, disconnect),
    accountRow,
    status,
    address,
    error,
  )
  let lastAddress: string | null = null
  let busy = false

  const render = (): void => {
    const active = manager.activeWallet
    const activeAddress = manager.activeAddress
    show(chooser, !active)
    show(connect, !active)
    show(disconnect, !!active)
    connect.toggleAttribute('disabled', busy)
    disconnect.toggleAttribute('disabled', busy)
    const accounts = active?.accounts ?? []
    show(accountRow, accounts.length > 1)
    if (accounts.length > 1) {
      const current = Array.from(accountSelect.options).map((o) => o.value).join(',')
      if (current !== accounts.map((a) => a.address).join(',')) {
        replaceChildren(accountSelect, accounts.map((a) => h('option', { value: a.address }, `${a.name} ${shorten(a.address)}`)))
      }
      if (activeAddress) accountSelect.value = activeAddress
    }
    setText(status, active ? `Connected with ${active.metadata.name}` : busy ? 'Connecting…' : 'No wallet connected.')
    setText(address, activeAddress ?? '')
    address.title = activeAddress ?? ''
    show(address, !!activeAddress)
    if (activeAddress !== lastAddress) {
      lastAddress = activeAddress
      onChange(activeAddress)
    }
  }

  connect.addEventListener('click', async () => {
    const wallet = manager.wallets.find((w) => w.walletKey === select.value)
    if (!wallet) return
    setText(error, '')
    busy = true
    render()
    try {
      await wallet.connect()
      wallet.setActive()
    } catch (err) {
      setText(error, `Could not connect the wallet: ${errorText(err)}`)
    } finally {
      busy = false
      render()
    }
  })
  disconnect.addEventListener('click', async () => {
    setText(error, '')
    busy = true
    render()
    try {
      await manager.activeWallet?.disconnect()
    } catch (err) {
      setText(error, `Could not disconnect: ${errorText(err)}`)
    } finally {
      busy = false
      render()
    }
  })
  accountSelect.addEventListener('change', () => {
    manager.activeWallet?.setActiveAccount(accountSelect.value)
  })
  const unsubscribe = manager.subscribe(() => render())
  render()
  return { element, dispose: unsubscribe }
}
