"""banron (반론): a debate sparring partner that rebuts with cited evidence."""

__version__ = "0.1.0"
