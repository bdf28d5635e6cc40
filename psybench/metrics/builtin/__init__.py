"""psybench's own metrics, one module each; every module here is imported by the registry and calls
`register()` once. A new metric is a new module here plus its line in docs/METRICS.md."""
