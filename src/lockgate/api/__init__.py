"""HTTP surfaces (dialects): translate wire ⇄ domain and delegate; no SQL, no business rules."""
