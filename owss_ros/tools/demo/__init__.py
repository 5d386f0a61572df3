"""The end-to-end demo: a sample drive replayed into the node, a class taught mid-drive."""
