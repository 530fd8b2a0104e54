// Amounts: the API and the chain count µALGO (1 ALGO = 1 000 000 µALGO); people read ALGO.

const MICRO_PER_ALGO = 1_000_000n

/** "1.5 ALGO" for 1 500 000 µALGO: exact (bigint arithmetic), no trailing zeros, thousands grouped. */
export function formatAlgo(microalgo: number | bigint): string {
  const value = BigInt(microalgo)
  const negative = value < 0n
  const abs = negative ? -value : value
  const whole = (abs / MICRO_PER_ALGO).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ',')
  const fraction = (abs % MICRO_PER_ALGO).toString().padStart(6, '0').replace(/0+$/, '')
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''} ALGO`
}

/** A long address or id shortened for narrow screens: the full value stays in the title attribute. */
export function shorten(text: string, head = 6, tail = 6): string {
  return text.length <= head + tail + 1 ? text : `${text.slice(0, head)}…${text.slice(-tail)}`
}
