# Vireo's container image: one image for every command (`vireo controller`, `vireo loadtester`,
# `vireo demo-service`, ...). How to build and run it: docs/install.md; why it is built this way:
# docs/adr/0022-container-image.md.
#
#   docker build -t ghcr.io/vireo-dev/vireo:0.1.0 --build-arg VIREO_COMMIT="$(git rev-parse HEAD)" .

# The public Node.js 20 image on Debian bookworm. Any Debian bookworm image with node and npm in
# /usr/local/bin works (the test suite builds one itself, as it cannot pull images).
ARG NODE_IMAGE=docker.io/library/node:20-bookworm-slim
# Must equal package.json's version: the build stops otherwise, so the labels never disagree with
# `vireo --version`.
ARG VIREO_VERSION=0.1.0
# The git commit, reported by `vireo --version` and the revision label (the build context has no .git).
ARG VIREO_COMMIT=unknown

FROM ${NODE_IMAGE} AS build
ARG VIREO_VERSION
ARG VIREO_COMMIT
WORKDIR /src
COPY package.json package-lock.json ./
# Dependencies first, so a change to the sources reuses this layer. No install scripts: none of
# the production dependencies needs one. Type declarations and source maps are dropped after the
# build: nothing reads them at run time, and they are two thirds of the dependencies' files.
RUN --mount=type=cache,target=/root/.npm \
    npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN package_version="$(node -p 'require("./package.json").version')" \
    && if [ "$package_version" != "$VIREO_VERSION" ]; then \
         echo "VIREO_VERSION is $VIREO_VERSION but package.json says $package_version: pass --build-arg VIREO_VERSION=$package_version (and update the Dockerfile's default)" >&2; \
         exit 1; \
       fi \
    && VIREO_COMMIT="$VIREO_COMMIT" npm run build \
    && npm prune --omit=dev --no-audit --no-fund --ignore-scripts \
    && find dist node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' \) -delete \
    && find node_modules -type f -name '*.map' -delete

FROM ${NODE_IMAGE} AS runtime
ARG VIREO_VERSION
ARG VIREO_COMMIT
# tini is PID 1: it passes SIGTERM on to node and reaps the processes the loadtester starts (node
# as PID 1 would do neither). hey is the loadtester's load generator. Versions follow the
# base's Debian release, which only ships fixes (pinning a Debian revision breaks the build as
# soon as a fix supersedes it).
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends tini hey \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 vireo \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
         --shell /usr/sbin/nologin vireo
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY crds ./crds
RUN ln -s /app/bin/vireo.js /usr/local/bin/vireo
ENV NODE_ENV=production
LABEL org.opencontainers.image.title="vireo" \
      org.opencontainers.image.description="Progressive delivery controller, a drop-in for Flagger" \
      org.opencontainers.image.version="${VIREO_VERSION}" \
      org.opencontainers.image.revision="${VIREO_COMMIT}" \
      org.opencontainers.image.licenses="Apache-2.0"
# Numeric, so Kubernetes' runAsNonRoot can check it; the same uid as the manifests' runAsUser.
USER 10001:10001
# Nothing is written outside /tmp: the root filesystem can be read-only.
# A 4 MiB young generation (Node's default is 16): the controller's garbage is short-lived and small,
# and its peak memory drops by about 20 MiB at no CPU cost (docs/controller.md "Memory").
ENTRYPOINT ["/usr/bin/tini", "--", "node", "--max-semi-space-size=4", "/app/bin/vireo.js"]
CMD ["controller"]
