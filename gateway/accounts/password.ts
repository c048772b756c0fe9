import { randomBytes } from 'node:crypto'
import { hashSecret, verifySecret } from '../../protocol/index.js'

// Operator passwords are hashed as machine secrets are (salted scrypt, parameters stored with the
// hash), after Unicode NFC so the same password typed on another keyboard still matches.
export const hashPassword = (password: string): Promise<string> => hashSecret(password.normalize('NFC'))
export const verifyPassword = (password: string, stored: string): Promise<boolean> => verifySecret(password.normalize('NFC'), stored)

/** A random token for sessions, CSRF and API keys: 32 bytes, base64url. */
export const newToken = (): string => randomBytes(32).toString('base64url')
