import { z } from 'zod'

export const TelemetrySchema = z.strictObject({
  v: z.literal(1),
  at: z.iso.datetime({ offset: true }),
  temperatureC: z.number().min(-100).max(200).optional(),
  doorOpen: z.boolean().optional(),
  errors: z.array(z.string().max(256)).max(50).optional(),
  cashBoxKop: z.int().min(0).optional(),
  stock: z.record(z.string().min(1).max(64), z.int().min(0)).optional(),
})
export type Telemetry = z.infer<typeof TelemetrySchema>

export const StatusSchema = z.strictObject({
  v: z.literal(1),
  state: z.enum(['online', 'offline']),
  at: z.iso.datetime({ offset: true }),
})
export type Status = z.infer<typeof StatusSchema>
