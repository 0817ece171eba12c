"""Reusable test support: real servers the test run starts on loopback."""
