# One image for every part: the service's command picks broker, gateway, fleet or sim. It runs the
# TypeScript sources with tsx, a production dependency (test/e2e/image-replay.test.ts replays these
# steps without Docker).
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json .npmrc ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY protocol ./protocol
COPY broker ./broker
COPY gateway ./gateway
COPY device-sim ./device-sim
COPY scripts ./scripts
COPY tsconfig.json ./
# The provisioning service writes the simulated fleet's credentials here (a volume shared with sim).
RUN mkdir /fleet && chown node:node /fleet
USER node
# MQTT over TCP, MQTT over WebSocket, HTTP. MQTT over TLS (8883) needs certificates mounted.
EXPOSE 1883 8083 8080
CMD ["npm", "run", "gateway"]
