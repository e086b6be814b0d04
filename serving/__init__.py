"""Serving a team: shared cache and locks, background jobs, export limits, gunicorn.

app.py assembles these; nothing here reads a registry or draws a chart.
"""
