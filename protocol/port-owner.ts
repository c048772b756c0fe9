import { readdirSync, readFileSync, readlinkSync } from 'node:fs'
import type { PortOwner } from './start-failure.js'

// Who listens on a local TCP port, for the line a process prints when its port is taken
// (start-failure.ts). The one file of protocol/ that reads anything: every part's main needs it when
// it cannot start, and protocol/ is the one directory they may all import; a copy in each part
// would be the same code twice. It only reads /proc, and only after a start has failed.

/** The pid (and command) listening on a local TCP port, from /proc; null when not visible to us. */
export const portOwner: PortOwner = (port) => {
  try {
    const inodes = new Set<string>()
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      for (const row of readFileSync(table, 'utf8').split('\n').slice(1)) {
        const f = row.trim().split(/\s+/)
        // local_address is HEX_IP:HEX_PORT; state 0A is LISTEN; the inode is the 10th column.
        if (f[3] === '0A' && parseInt(f[1]?.split(':')[1] ?? '', 16) === port && f[9]) inodes.add(`socket:[${f[9]}]`)
      }
    }
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let fds: string[]
      try { fds = readdirSync(`/proc/${pid}/fd`) } catch { continue }
      for (const fd of fds) {
        let target: string
        try { target = readlinkSync(`/proc/${pid}/fd/${fd}`) } catch { continue }
        if (inodes.has(target)) {
          const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).slice(0, 3).join(' ')
          return { pid: Number(pid), command }
        }
      }
    }
  } catch { /* no /proc here */ }
  return null
}
