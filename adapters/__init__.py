"""Platform adapters: SDK wiring and pure translation between a platform's payloads and the core's models."""
