"""The kilo-tui subcommands, one module per command group; proxy.cli dispatches."""
