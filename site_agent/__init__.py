"""The site agent: runs on a site's premises, takes in its data, keeps it safe until the hub pulls it."""

__version__ = "1.0.0"
