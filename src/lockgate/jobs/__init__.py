"""Long work a client polls (h2oGPTe `*_job` routes): one job model and one runner, so the runner can
later hand the work to a durable queue without touching the callers."""
