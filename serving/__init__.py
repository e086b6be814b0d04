"""Serving ModelDeck to a team: login (auth.py), headers and exposure checks (security.py)."""
