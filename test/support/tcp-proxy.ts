// The chaos harness's TCP proxy, for tests that take the database away from a gateway process
// without touching the machine's PostgreSQL.
export { createTcpProxy, type CutMode, type TcpProxy } from '../../scripts/chaos/tcp-proxy.js'
