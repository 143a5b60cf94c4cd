"""Built-in detector plugins, each registered through the ``streamproc`` entry-point group."""
