"""The Avro schemas of every topic (``*.avsc``): the public contract of streamproc."""
