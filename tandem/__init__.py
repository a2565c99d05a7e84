"""The composition root: the `tandem` command, and the wiring that builds the core from settings, opens the
SQLite store and starts every configured platform adapter. The only package that knows all the others."""
