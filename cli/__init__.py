"""The ``piddm`` command line."""
