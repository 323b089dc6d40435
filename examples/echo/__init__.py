"""Echo example: a FlameService that echoes its input."""
