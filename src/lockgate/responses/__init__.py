"""Stored responses of the OpenAI Responses API: kept per user (`store`), chained by
`previous_response_id`, readable and deletable only by their owner."""
