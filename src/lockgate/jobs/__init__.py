"""Background jobs (ingestion, h2oGPTe `*_job` routes) on a durable queue (ADR 0018): models (the jobs
table), schemas (payloads), repository (its SQL), queue (huey storage), service (submit, read, cancel,
wait), worker (claim, lease, run, sweep), work (what each kind does)."""
