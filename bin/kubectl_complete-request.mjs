#!/usr/bin/env node
// kubectl ≥ 1.26 completes `kubectl request ARGS…` by running `kubectl_complete-request ARGS…`
// from PATH (the last argument is the word being typed) and reading Cobra's __complete format.
process.argv.splice(2, 0, '__complete');
await import('./kubectl-request.mjs');
