# Multi-stage image of the iot-bff gateway (default target) and of the platform simulator (target `simulator`), both compiled.
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# config/ is optional (the environment wins); make sure it exists so the runtime stage can always copy it.
RUN npm run build && mkdir -p config

# What both images share: production dependencies only (no tsx, no esbuild, no TypeScript) and the compiled dist/.
FROM node:22-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY --from=build /app/config ./config
# Files stay root-owned and read-only for the process; it writes nothing to disk.
USER node
STOPSIGNAL SIGTERM

# The simulator gets its own port, health check and command, so that it inherits nothing of the gateway's.
FROM runtime AS simulator
EXPOSE 8743
HEALTHCHECK --interval=15s --timeout=10s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.SIMULATOR_PORT || 8743) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/simulator/main.js"]

# Last, so that a plain `docker build .` builds the gateway.
FROM runtime AS gateway
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=10s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# As `npm start` (compose.test.ts). No V8 heap flags: those measured (docs/performance.md, issue 15) lowered
# peak RSS but cost every path CPU.
CMD ["node", "dist/main.js"]
