"""Model handles: the one object per worker that turns a conversation into model turns."""
