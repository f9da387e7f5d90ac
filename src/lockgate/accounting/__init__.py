"""Accounting: usage records, costs and budgets, rate limits (memory | Redis), carbon footprint."""
