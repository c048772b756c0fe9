// What other parts (npm start, the benchmark, tests) use of the simulator.
export { runFleet, startFleet, type FleetHandle, type FleetMachine, type FleetOptions, type FleetReport, type FleetSnapshot } from './fleet.js'
export { SimMachine, firstBroker, type LinkEvent, type SimMachineOptions } from './machine.client.js'
export { MachineState, DEFAULT_RETRY, type DisplayOutcome, type RetryPolicy } from './machine.js'
export { createEchoResponder, echoReceipt, ECHO_FN, type EchoResponder, type EchoResponderOptions } from './responder.js'
export { DEFAULT_CATALOGUE, createSaleGenerator, loadCatalogue, type Catalogue } from './catalogue.js'
export { numberedMachines, readCredentials } from './credentials.js'
export { LatencyHistogram } from './histogram.js'
