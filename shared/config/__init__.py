"""The configuration schema both sides read: typed sections (``sections``) and ``model.name`` rules."""
