"""Monte-Carlo pi example."""
