// Entry of `npm run gateway`. SIGTERM and SIGINT are taken first (early-signals.ts): every static
// import of a module is loaded before its first line runs, and loading the gateway takes a second
// or more, so the composition root (run.ts) is imported only after that.
import { takeStopSignals } from './early-signals.js'

const signals = takeStopSignals()
const { runGateway } = await import('./run.js')
runGateway(signals)
