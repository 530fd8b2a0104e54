import { expect, test } from 'vitest'

import { ConfigError, parseConfig } from '../src/config'

const algod = { baseServer: 'http://127.0.0.1', port: 4001, token: '' }

test('a local stack config keeps its fields; a trailing slash on the API URL goes', () => {
  expect(parseConfig({ apiBaseUrl: 'https://api.example.com/', network: 'localnet', algod, devAccessToken: 'tok' })).toEqual({
    apiBaseUrl: 'https://api.example.com',
    network: 'localnet',
    algod,
    devAccessToken: 'tok',
  })
})

test('defaults: same-origin API, no token, empty port and algod token', () => {
  expect(parseConfig({ network: 'testnet', algod: { baseServer: 'https://testnet-api.4160.nodely.dev' } })).toEqual({
    apiBaseUrl: '',
    network: 'testnet',
    algod: { baseServer: 'https://testnet-api.4160.nodely.dev', port: '', token: '' },
  })
})

test.each([
  [null, 'config.json is not a JSON object'],
  [{ network: 'betanet', algod }, 'config.json: network must be one of localnet, testnet, mainnet'],
  [{ network: 'mainnet' }, 'config.json: algod.baseServer is required'],
  [{ network: 'mainnet', algod: { ...algod, token: 5 } }, 'config.json: algod.token must be a string'],
  [{ network: 'mainnet', apiBaseUrl: 3, algod }, 'config.json: apiBaseUrl must be a string'],
])('a bad config is refused with a reason: %j', (raw, message) => {
  expect(() => parseConfig(raw)).toThrow(ConfigError)
  expect(() => parseConfig(raw)).toThrow(message)
})

test('a port written inside algod.baseServer is moved to algod.port (algosdk would drop it)', () => {
  expect(parseConfig({ network: 'localnet', algod: { baseServer: 'http://127.0.0.1:4101/' } }).algod).toEqual({
    baseServer: 'http://127.0.0.1',
    port: 4101,
    token: '',
  })
  expect(() => parseConfig({ network: 'localnet', algod: { baseServer: 'not a url' } })).toThrow(
    'config.json: algod.baseServer must be a URL',
  )
})
