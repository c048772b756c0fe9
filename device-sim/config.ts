import { z } from 'zod'
import { DEFAULT_TOPIC_PREFIX } from '../protocol/index.js'

// The simulator's defaults from the environment (DESIGN.md, "Configuration"): the same MQTT_URL and
// MQTT_TOPIC_PREFIX as the gateway. Only this file reads process.env; flags override it.

/** One broker URL, or several separated by commas (machines spread over them and move on when theirs is away). */
export const MqttUrlSchema = z.string().regex(/^(mqtts?|tcp):\/\/[^,\s]+(,(mqtts?|tcp):\/\/[^,\s]+)*$|^wss?:\/\/[^,\s]+$/, 'must be an mqtt://, mqtts://, ws:// or wss:// URL, or several mqtt:// URLs separated by commas')
export const TopicPrefixSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 of [A-Za-z0-9_-]')

const SimEnvSchema = z.object({
  MQTT_URL: MqttUrlSchema.default('mqtt://127.0.0.1:1883'),
  MQTT_TOPIC_PREFIX: TopicPrefixSchema.default(DEFAULT_TOPIC_PREFIX),
})

export interface SimEnv {
  mqttUrl: string
  topicPrefix: string
}

/** Parses the environment once; every bad variable is named in one error. */
export function loadSimEnv(env: Record<string, string | undefined> = process.env): Readonly<SimEnv> {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = SimEnvSchema.safeParse(present)
  if (!parsed.success) {
    throw new Error(`invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`)
  }
  return Object.freeze({ mqttUrl: parsed.data.MQTT_URL, topicPrefix: parsed.data.MQTT_TOPIC_PREFIX })
}
