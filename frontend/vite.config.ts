import { defineConfig } from 'vitest/config'

// `npm run dev` serves the pages on :5173 and forwards the API and the runtime config to a local
// stack started with `orch up` (override with ORCH_API=http://127.0.0.1:3100 npm run dev).
const api = process.env.ORCH_API ?? 'http://127.0.0.1:3000'

export default defineConfig({
  // One page (index.html) with a tiny client router: /orchestrator and /workflow/<id>.
  appType: 'spa',
  build: {
    outDir: 'dist',
    target: 'es2022',
    sourcemap: true,
    // The wallet SDKs (Pera, Defly, Lute) are loaded on demand by use-wallet; they are large.
    chunkSizeWarningLimit: 2000,
    rolldownOptions: {
      onwarn(warning, warn) {
        // lottie-web (inside Pera's connect SDK) uses eval; nothing we can change.
        if (warning.code === 'EVAL' && /node_modules/.test(warning.id ?? '')) return
        warn(warning)
      },
    },
  },
  define: {
    // Some wallet SDKs still read Node's `global`.
    global: 'globalThis',
  },
  server: {
    proxy: {
      '/api': api,
      '/config.json': api,
    },
  },
  test: {
    include: ['tests/**/*.test.ts'],
    environment: 'node',
  },
})
