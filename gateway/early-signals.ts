// SIGTERM and SIGINT, taken from the first moment of `npm run gateway` (gateway/main.ts), before the
// rest of the gateway has loaded. Without a handler, a signal during the start (an orchestrator's
// rolling update, a restart right after a crash) ended the process by the signal's default action,
// halfway through whatever it was doing. This module imports nothing, so that it is in place
// within milliseconds of the process starting.

export interface StopSignals {
  /**
   * From now on each SIGTERM or SIGINT calls `stop` (replacing the handler given before). A signal
   * that came while there was no handler yet is given to `stop` at once.
   */
  onStop(stop: (signal: NodeJS.Signals) => void): void
}

export function takeStopSignals(): StopSignals {
  let early: NodeJS.Signals | null = null
  let handler: ((signal: NodeJS.Signals) => void) | null = null
  const received = (signal: NodeJS.Signals) => {
    if (handler) handler(signal)
    else early ??= signal
  }
  process.on('SIGTERM', received)
  process.on('SIGINT', received)
  return {
    onStop(stop) {
      handler = stop
      if (early !== null) {
        const signal = early
        early = null
        stop(signal)
      }
    },
  }
}
