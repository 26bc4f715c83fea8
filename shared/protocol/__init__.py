"""Facts of the XenonFlare wire protocol kept as data: deliverable kinds, shapes and limits."""
