"""Building blocks shared by every architecture: each architecture configures them, none copies them."""
