"""Dev-only tools: benchmarks, the node process launcher and ROS client, the demo, shared ROS
test helpers. No runtime module (core, data, backends, evaluation, training, runtime, ros) imports
this package."""
