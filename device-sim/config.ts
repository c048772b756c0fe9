import { z } from 'zod'
import { DEFAULT_TOPIC_PREFIX } from '../protocol/index.js'

// The simulator's defaults from the environment (README.md#configuration): the same MQTT_URL,
// MQTT_TOPIC_PREFIX and DATA_DIR as the gateway. Only this file reads process.env; flags override it.

/** One broker URL, or several separated by commas (machines spread over them and move on when theirs is away). */
export const MqttUrlSchema = z.string().regex(/^(mqtts?|tcp):\/\/[^,\s]+(,(mqtts?|tcp):\/\/[^,\s]+)*$|^wss?:\/\/[^,\s]+$/, 'must be an mqtt://, mqtts://, ws:// or wss:// URL, or several mqtt:// URLs separated by commas')
export const TopicPrefixSchema = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 of [A-Za-z0-9_-]')

export const DEFAULT_MQTT_URL = 'mqtt://127.0.0.1:1883'

const SimEnvSchema = z.object({
  MQTT_URL: MqttUrlSchema.optional(),
  MQTT_TOPIC_PREFIX: TopicPrefixSchema.default(DEFAULT_TOPIC_PREFIX),
  DATA_DIR: z.string().min(1).default('./data'),
})

export interface SimEnv {
  mqttUrl: string
  /** False when mqttUrl is the default, so a running `npm start` in dataDir may be used instead. */
  mqttUrlGiven: boolean
  topicPrefix: string
  /** Where a running `npm start` leaves its note (its embedded database's directory). */
  dataDir: string
}

/** Parses the environment once; every bad variable is named in one error. */
export function loadSimEnv(env: Record<string, string | undefined> = process.env): Readonly<SimEnv> {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''))
  const parsed = SimEnvSchema.safeParse(present)
  if (!parsed.success) {
    throw new Error(`invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')} ${i.message}`).join('; ')}`)
  }
  const e = parsed.data
  return Object.freeze({ mqttUrl: e.MQTT_URL ?? DEFAULT_MQTT_URL, mqttUrlGiven: e.MQTT_URL !== undefined, topicPrefix: e.MQTT_TOPIC_PREFIX, dataDir: e.DATA_DIR })
}

/** The simulator schema's variable names, for the docker-compose check. */
export const SIM_ENV_NAMES: readonly string[] = Object.keys(SimEnvSchema.shape)
