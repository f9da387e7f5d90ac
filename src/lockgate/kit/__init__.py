"""Small shared plumbing: database, ids, crypto, time, pagination, logging."""
