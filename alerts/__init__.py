"""ModelDeck's alerts and scheduled digest: ``python -m alerts --settings alerts.toml``.

Rules (``alerts.settings``, docs/alerts.md) are checked against the registry by
``analysis.alert_rules`` with the numbers the pages show; each new alert is sent once by
e-mail and/or a Slack-compatible webhook (``alerts.channels``), and what was delivered is
kept in a state folder outside the registry (``alerts.state``). The same run can e-mail the
portfolio report as a weekly digest (``alerts.digest``). Meant for cron or a Kubernetes
CronJob; ``alerts.run`` documents the exit status.
"""
