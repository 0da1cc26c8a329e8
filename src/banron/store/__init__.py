"""Persistence of debates and turns (SQLite default)."""
