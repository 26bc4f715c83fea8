"""Hostile input: what a cloud, a model, a config file or an operator may send (issue 9)."""
