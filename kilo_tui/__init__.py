"""The kilo-tui console: a Textual app that drives the gateway and shows its traffic."""
