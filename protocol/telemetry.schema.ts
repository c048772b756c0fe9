import { z } from 'zod'
import { safeString } from './text.js'

export const TelemetrySchema = z.strictObject({
  v: z.literal(1),
  at: z.iso.datetime({ offset: true }),
  temperatureC: z.number().min(-100).max(200).optional(),
  doorOpen: z.boolean().optional(),
  // Stored as jsonb and shown on the dashboard: the same string rules as a sale's (text.ts).
  errors: z.array(safeString(256, 0)).max(50).optional(),
  cashBoxKop: z.int().min(0).optional(),
  stock: z.record(safeString(64), z.int().min(0)).optional(),
})
export type Telemetry = z.infer<typeof TelemetrySchema>

export const StatusSchema = z.strictObject({
  v: z.literal(1),
  state: z.enum(['online', 'offline']),
  at: z.iso.datetime({ offset: true }),
})
export type Status = z.infer<typeof StatusSchema>
