"""A handle module whose import fails, as one with a missing dependency would."""
raise ImportError("No module named 'torch' (needed by broken_handles)")
