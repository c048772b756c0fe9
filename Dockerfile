# One image for every part: the service's command picks broker, gateway, fleet or sim.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY protocol ./protocol
COPY broker ./broker
COPY gateway ./gateway
COPY device-sim ./device-sim
COPY scripts ./scripts
COPY tsconfig.json ./
USER node
EXPOSE 1883 8080
CMD ["npm", "run", "gateway"]
