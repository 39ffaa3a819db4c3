# kube-request-access webhook server. Build: docker build -t kube-request-access .
# Stage 1 bundles the TypeScript sources with esbuild (from the dev dependencies); stage 2 holds
# only Node 24, the production dependencies and that bundle, and runs as a non-root user.
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY functions ./functions
COPY adapters ./adapters
COPY webhooks ./webhooks
RUN npx esbuild adapters/node/main.ts --bundle --platform=node --target=node24 --format=esm \
      --packages=external --outfile=dist/kube-request-access.mjs --log-level=warning

FROM node:24-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM node:24-slim
LABEL org.opencontainers.image.title="kube-request-access" \
      org.opencontainers.image.description="Audited, approved kubectl exec: validating admission webhook" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=deps /app/package.json ./package.json
COPY --from=build /src/dist/kube-request-access.mjs ./dist/kube-request-access.mjs
# The image's `node` user (uid 1000); the Deployment also sets runAsNonRoot and a read-only root.
USER 1000:1000
EXPOSE 8443
# The heap capped to fit the manifests' 448Mi memory limit, and a young generation of 4 MB
# semi-spaces instead of 16: V8 grows it to its maximum under load, which costs about 20 MB of
# resident memory at no measurable CPU per review (the Deployment sets the same; docs/benchmarks.md).
ENV NODE_OPTIONS="--max-old-space-size=288 --max-semi-space-size=4"
# Two malloc arenas, not one per thread (glibc's default is up to 8 per core): about 3 MB less resident
# idle and under load at N = 1,000, no CPU per review measured (bench/idle-rss.ts).
ENV MALLOC_ARENA_MAX=2
ENTRYPOINT ["node", "--enable-source-maps", "/app/dist/kube-request-access.mjs"]
CMD ["serve", "--address=0.0.0.0:8443", "--cert-file=/etc/kube-request-access/tls/tls.crt", "--key-file=/etc/kube-request-access/tls/tls.key"]
