"""Platform adapters: translate platform events into core events and core actions into platform calls."""
