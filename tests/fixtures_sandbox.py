"""Sandbox fixtures: a running sandbox server on a free loopback port."""
