"""Gateway: model routers (names + aliases) over providers, balancing, QoS, retries, inference."""
