"""The weekly digest: figures from the SQLite log, rendered for the CLI, the agent command and the platforms."""
