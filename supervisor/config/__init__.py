"""Configuration: typed sections, the loader and the JSON Schema derived from them."""
from .errors import ConfigError, Problem
from .loader import load_config
from shared.config.sections import RunnerConfig

__all__ = ["ConfigError", "Problem", "RunnerConfig", "load_config"]
