"""Configuration: typed sections, the loader and the JSON Schema derived from them."""
from shared.config.sections import RunnerConfig

from .errors import ConfigError, Problem
from .loader import load_config

__all__ = ["ConfigError", "Problem", "RunnerConfig", "load_config"]
