"""Fakes of the platforms' servers that listen on 127.0.0.1, driven by the real client libraries in tests."""
