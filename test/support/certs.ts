import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'

export interface TestCertificate {
  certFile: string
  keyFile: string
  /** PEM, for the client's `ca`. */
  cert: Buffer
  remove(): Promise<void>
}

/** A self-signed P-256 certificate for localhost / 127.0.0.1, valid one day, in a temp dir of its own. */
export async function createTestCertificate(): Promise<TestCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'vt-cert-'))
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
    '-keyout', keyFile, '-out', certFile,
  ])
  return { certFile, keyFile, cert: await readFile(certFile), remove: () => rm(dir, { recursive: true, force: true }) }
}
