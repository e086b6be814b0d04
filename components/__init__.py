"""Drawing: pure figure factories and reusable UI pieces. No data access here."""
