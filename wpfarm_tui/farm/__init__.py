"""One client module per real service; each takes explicit endpoints and timeouts
and knows nothing of Textual."""
