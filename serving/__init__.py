"""Serving ModelDeck to a team: login (auth.py), headers and exposure checks (security.py),
shared cache and locks, background jobs, export limits, gunicorn.

app.py assembles these; nothing here reads a registry or draws a chart.
"""
