"""Debate: claims, the opponent's speech building, and sessions."""
