"""Exports: chart images and data, PowerPoint decks and self-contained HTML reports.

Built from the same analysis results and the same figure factories as the pages, so an export
shows exactly the numbers the page shows. ``reports.routes.register_export(app)`` wires it in.
"""
