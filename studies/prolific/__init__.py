"""Prolific kept in sync: a client for the subset of Prolific's researcher API the platform uses
(client.py) and the services that read submission statuses and send approvals, rejections and bonuses
(sync.py). Enabled when PROLIFIC_API_TOKEN is set."""
