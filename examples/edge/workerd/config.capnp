# Self-hosted workerd (no Cloudflare account): the same worker bundle, served on a socket behind
# your TLS proxy. workerd's fetch takes no CA bundle, so the API server's CA is pinned here, in the
# network service every outbound fetch goes through: it trusts ca.pem and nothing else.
#
#   npx tsx examples/edge/build.ts examples/edge/dist
#   cp examples/edge/workerd/config.capnp examples/edge/dist/
#   cp /path/to/cluster-ca.crt examples/edge/dist/ca.pem
#   cd examples/edge/dist && KUBERNETES_API_URL=https://10.0.0.1:6443 KUBERNETES_TOKEN=$(cat token) \
#     ADMISSION_TOKEN=... npx workerd serve config.capnp --socket-addr http=127.0.0.1:8787
#
# workerd has no cron of its own: run the cleanup from a Cloudflare cron trigger, the Deno or Bun
# entry (CLEANUP_INTERVAL), or the in-cluster server.
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "main", worker = .worker),
    ( name = "kubernetes",
      network = (
        # "local" lets the worker reach an API server on loopback or the node network; narrow it
        # to what your API server needs ("private" for 10.x, "public" for a proxy's public name).
        allow = ["public", "private", "local"],
        tlsOptions = (trustedCertificates = [embed "ca.pem"]),
      ),
    ),
  ],
  sockets = [(name = "http", address = "127.0.0.1:8787", http = (), service = "main")],
);

const worker :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "workerd.mjs")],
  compatibilityDate = "2026-04-01",
  globalOutbound = "kubernetes",
  bindings = [
    (name = "KUBERNETES_API_URL", fromEnvironment = "KUBERNETES_API_URL"),
    (name = "KUBERNETES_TOKEN", fromEnvironment = "KUBERNETES_TOKEN"),
    (name = "ADMISSION_TOKEN", fromEnvironment = "ADMISSION_TOKEN"),
    (name = "ALWAYS_ALLOWED_GROUPS", fromEnvironment = "ALWAYS_ALLOWED_GROUPS"),
    (name = "ALWAYS_ALLOWED_USERS", fromEnvironment = "ALWAYS_ALLOWED_USERS"),
    (name = "USERNAME_PREFIX", fromEnvironment = "USERNAME_PREFIX"),
    (name = "AUDIT_WEBHOOK_URL", fromEnvironment = "AUDIT_WEBHOOK_URL"),
    (name = "EXTENDED_VALIDATION_WEBHOOK_URL", fromEnvironment = "EXTENDED_VALIDATION_WEBHOOK_URL"),
    (name = "LOG_LEVEL", fromEnvironment = "LOG_LEVEL"),
  ],
);
